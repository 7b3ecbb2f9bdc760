/**
 * The admin page's tus client (player/tus-upload.ts) in Chromium against a real onair, through a
 * TCP relay that drops the upload's connection part-way: the client asks the server's offset and
 * goes on by itself; stopped and reloaded, choosing the same file again resumes the same upload
 * (its URL is kept in localStorage); either way the stored source is the file, byte for byte.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceKey } from '../../src/media/layout.ts';
import { until } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.ts';
import { serverStorage, startTestServer, type ServerStorage, type TestServer } from '../helpers/server.ts';

const root = path.resolve(import.meta.dirname, '../..');
/**
 * What the browser gets when the relay cuts the upload: what a proxy in front answers when its
 * connection to onair drops. (A bare close is no test of the client: on a reused keep-alive
 * connection Chromium silently resends the request, which then races the cut one on the server:
 * both outcomes are correct, but only one of them exercises the client's resume.)
 */
const CUT_ANSWER = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

let server: TestServer;
let relay: TcpRelay;
let storage: ServerStorage;
let work: string;
let bytes: Buffer;
let client: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-tus-'));
  relay = await startTcpRelay();
  server = await startTestServer({ PUBLIC_URL: relay.url });
  relay.target = Number(new URL(server.url).port);
  storage = await serverStorage(server);
  bytes = fs.readFileSync(
    await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 4 }),
  );
  // The client as the admin page bundles it, exposed as a global for the test to call.
  const bundle = await build({
    entryPoints: [path.join(root, 'player/tus-upload.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'onairTus',
    target: ['es2020'],
    write: false,
    logLevel: 'silent',
  });
  client = bundle.outputFiles[0]!.text;
});

afterAll(async () => {
  storage?.close();
  await server?.close();
  await relay?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Outcome {
  assetId?: string;
  error?: string;
  events: string[];
}

/** Uploads the test file from the page (as a File the browser would give for the same file each time). */
async function uploadFromPage(page: Page, opts: { stopOnDrop: boolean }): Promise<Outcome> {
  // Evaluated in a function's scope: the bundle's `var onairTus` is handed to window explicitly.
  await page.evaluate(`${client};window.onairTus = onairTus;`);
  return page.evaluate(
    async ({ data, key, stopOnDrop }) => {
      const raw = atob(data);
      const fileBytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) fileBytes[i] = raw.charCodeAt(i);
      const file = new File([fileBytes], 'talk.mp4', { type: 'video/mp4', lastModified: 1_700_000_000_000 });
      const events: string[] = [];
      const tus = (window as unknown as { onairTus: typeof import('../../player/tus-upload.ts') }).onairTus;
      const upload = tus.uploadResumable(file, {
        endpoint: '/api/uploads',
        metadata: { title: 'From the browser', filename: file.name },
        headers: () => ({ authorization: `Bearer ${key}` }),
        onResume: (offset) => events.push(`resume ${offset}`),
        onRetry: () => {
          events.push('retry');
          if (stopOnDrop) upload.abort();
        },
      });
      try {
        return { assetId: (await upload.done).assetId, events };
      } catch (err) {
        return { error: (err as Error).message, events };
      }
    },
    { data: bytes.toString('base64'), key: server.apiKey, stopOnDrop: opts.stopOnDrop },
  );
}

async function storedSource(assetId: string): Promise<Buffer | undefined> {
  return storage.readBytes(sourceKey(assetId));
}

describe("the admin page's resumable upload", () => {
  it('goes on by itself after the connection drops, and after a reload resumes the same upload', async () => {
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      // Any page of the origin: the client calls the API there.
      await page.goto(`${relay.url}/join`);

      // A drop part-way: the client asks the offset and sends the rest.
      const dropped = relay.cutAfter(Math.floor(bytes.length / 3), { answer: CUT_ANSWER });
      const first = await uploadFromPage(page, { stopOnDrop: false });
      await dropped;
      expect(first.error).toBeUndefined();
      expect(first.events).toContain('retry');
      expect((await storedSource(first.assetId!))?.equals(bytes)).toBe(true);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);

      // A drop, the page closed (stopped), reloaded, the same file chosen again: it resumes.
      const droppedAgain = relay.cutAfter(Math.floor(bytes.length / 2), { answer: CUT_ANSWER });
      const stopped = await uploadFromPage(page, { stopOnDrop: true });
      await droppedAgain;
      expect(stopped.error).toMatch(/stopped/);
      const kept = await page.evaluate(() => localStorage.getItem(localStorage.key(0)!));
      expect(kept).toMatch(/^\/api\/uploads\/up_/);
      const stored = await until('the server to keep what arrived before the drop', async () => {
        const head = await fetch(`${server.url}${kept}`, {
          method: 'HEAD',
          headers: { authorization: `Bearer ${server.apiKey}`, 'tus-resumable': '1.0.0' },
        });
        const offset = Number(head.headers.get('upload-offset'));
        return offset > 0 && offset;
      });
      await page.reload();
      const resumed = await uploadFromPage(page, { stopOnDrop: false });
      expect(resumed.error).toBeUndefined();
      expect(resumed.events[0]).toBe(`resume ${stored}`);
      expect(resumed.assetId).not.toBe(first.assetId);
      expect((await storedSource(resumed.assetId!))?.equals(bytes)).toBe(true);
      expect(await page.evaluate(() => localStorage.length)).toBe(0);
    } finally {
      await close();
    }
  });
});
