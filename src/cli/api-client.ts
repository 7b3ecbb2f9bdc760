import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { AssetView } from '../http/asset-view.ts';
import { formatUploadMetadata, TUS_VERSION } from '../http/tus-headers.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Waits before each retry of a resumable upload, in a row without progress (then it gives up). */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15_000];

interface TusState {
  readonly offset: number;
  readonly assetId: string | undefined;
}

function tusState(response: Response): TusState {
  return {
    offset: Number(response.headers.get('upload-offset') ?? NaN),
    assetId: response.headers.get('onair-asset-id') ?? undefined,
  };
}

/**
 * A streamed request body for Node's fetch (undici), which takes an async iterable and needs
 * `duplex: 'half'`; the DOM types this project also compiles with know neither.
 */
function streamingBody(body: AsyncIterable<Uint8Array>): RequestInit {
  return { body: body as unknown as BodyInit, duplex: 'half' } as RequestInit;
}

/** The API's error message, or the status alone (HEAD has no body). */
async function apiError(response: Response): Promise<ApiError> {
  // A body cut off with its connection: the status alone is the message then.
  const text = await response.text().catch(() => '');
  let message = `HTTP ${response.status}`;
  try {
    message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
  } catch {
    if (text) message = text.slice(0, 200);
  }
  return new ApiError(response.status, message);
}

/**
 * Worth another try after asking the offset: the connection failed (fetch throws a TypeError),
 * another request moved the offset (409), the file is being assembled (423), or the server failed.
 */
function isRetryable(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 409 || err.status === 423 || err.status >= 500;
  return err instanceof TypeError;
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

  /**
   * Streams a file as the body of one `POST /api/assets`; `onBytes` reports how much has been
   * sent. A dropped connection loses the upload: the CLI uses `uploadResumable`.
   */
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

  /**
   * Uploads a file with tus (`/api/uploads`): creates the upload, then streams the file in one
   * PATCH. When the connection drops (or the server answers 409, 423 or 5xx) it asks the server
   * how much it has (HEAD) and resumes from there, after `retryDelaysMs` (one delay per attempt in
   * a row without progress). `onBytes` reports how much has been sent.
   */
  async uploadResumable(
    file: string,
    title: string,
    onBytes?: (sent: number, total: number) => void,
    opts: { retryDelaysMs?: readonly number[]; onRetry?: (reason: string, delayMs: number) => void } = {},
  ): Promise<AssetView> {
    const delays = opts.retryDelaysMs ?? RETRY_DELAYS_MS;
    const total = fs.statSync(file).size;
    const location = await this.#createUpload(total, { title, filename: path.basename(file) });
    let state: TusState = { offset: 0, assetId: undefined };
    let failures = 0;
    while (!state.assetId) {
      const from = state.offset;
      try {
        state = await this.#patch(location, file, from, total, onBytes);
        failures = 0;
      } catch (err) {
        if (!isRetryable(err) || failures >= delays.length) throw err;
        opts.onRetry?.(err instanceof Error ? err.message : String(err), delays[failures]!);
        await new Promise((r) => setTimeout(r, delays[failures]));
        failures += 1;
        try {
          state = await this.#head(location);
        } catch (headErr) {
          if (!isRetryable(headErr)) throw headErr;
          continue;
        }
        onBytes?.(state.offset, total);
        // Bytes got through before the drop: the next drop starts the delays over.
        if (state.offset > from) failures = 0;
      }
    }
    return this.getAsset(state.assetId);
  }

  #tusHeaders(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.apiKey}`, 'tus-resumable': TUS_VERSION, ...extra };
  }

  async #createUpload(total: number, metadata: Record<string, string>): Promise<string> {
    const response = await fetch(new URL('/api/uploads', this.baseUrl), {
      method: 'POST',
      headers: this.#tusHeaders({
        'upload-length': String(total),
        'upload-metadata': formatUploadMetadata(metadata),
      }),
    });
    if (response.status !== 201) throw await apiError(response);
    const location = response.headers.get('location');
    if (!location) throw new ApiError(response.status, 'The server created the upload but sent no Location.');
    return new URL(location, this.baseUrl).href;
  }

  async #head(location: string): Promise<TusState> {
    const response = await fetch(location, { method: 'HEAD', headers: this.#tusHeaders() });
    if (response.status !== 200) throw await apiError(response);
    return tusState(response);
  }

  /** Sends the file from `offset` to its end (nothing, when the server has it all but has not assembled it). */
  async #patch(
    location: string,
    file: string,
    offset: number,
    total: number,
    onBytes?: (sent: number, total: number) => void,
  ): Promise<TusState> {
    let sent = offset;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of fs.createReadStream(file, { start: offset }) as AsyncIterable<Buffer>) {
        yield chunk;
        sent += chunk.length;
        onBytes?.(Math.min(sent, total), total);
      }
    }
    const response = await fetch(location, {
      method: 'PATCH',
      headers: this.#tusHeaders({
        'content-type': 'application/offset+octet-stream',
        'upload-offset': String(offset),
      }),
      ...(offset < total ? streamingBody(counted()) : {}),
    });
    if (response.status !== 204) throw await apiError(response);
    return tusState(response);
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
