import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { AssetView } from '../http/asset-view.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A small client for onair's HTTP API (used by the CLI, the tests and the benchmarks). */
export class OnairClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async #json<T>(method: string, route: string): Promise<T> {
    const response = await fetch(new URL(route, this.baseUrl), {
      method,
      headers: { authorization: `Bearer ${this.apiKey}` },
    });
    const body = response.status === 204 ? undefined : ((await response.json()) as unknown);
    if (!response.ok) {
      const message = (body as { error?: { message?: string } } | undefined)?.error?.message;
      throw new ApiError(response.status, message ?? `HTTP ${response.status}`);
    }
    return body as T;
  }

  getAsset(id: string): Promise<AssetView> {
    return this.#json('GET', `/api/assets/${encodeURIComponent(id)}`);
  }

  listAssets(): Promise<{ assets: AssetView[] }> {
    return this.#json('GET', '/api/assets');
  }

  deleteAsset(id: string): Promise<void> {
    return this.#json('DELETE', `/api/assets/${encodeURIComponent(id)}`);
  }

  /** Streams a file as the request body; `onBytes` reports how much has been sent. */
  upload(file: string, title: string, onBytes?: (sent: number, total: number) => void): Promise<AssetView> {
    const total = fs.statSync(file).size;
    const url = new URL('/api/assets', this.baseUrl);
    url.searchParams.set('title', title);
    url.searchParams.set('filename', path.basename(file));
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          'content-type': 'application/octet-stream',
          'content-length': String(total),
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          try {
            const body = JSON.parse(text) as AssetView & { error?: { message: string } };
            if (res.statusCode !== 202)
              reject(new ApiError(res.statusCode ?? 0, body.error?.message ?? text));
            else resolve(body);
          } catch {
            reject(new ApiError(res.statusCode ?? 0, text.slice(0, 200)));
          }
        });
      });
      req.on('error', reject);
      let sent = 0;
      const stream = fs.createReadStream(file);
      stream.on('data', (chunk) => {
        sent += chunk.length;
        onBytes?.(sent, total);
      });
      stream.pipe(req);
    });
  }

  /** Polls until the asset is ready or failed, reporting each state seen. */
  async waitForAsset(id: string, onUpdate?: (a: AssetView) => void, pollMs = 500): Promise<AssetView> {
    for (;;) {
      const asset = await this.getAsset(id);
      onUpdate?.(asset);
      if (asset.status === 'ready' || asset.status === 'failed') return asset;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
