import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

let server: TestServer;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-'));
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('onair upload --wait, then play in Chromium with hls.js', () => {
  it('prints a player URL whose page plays the ladder through hls.js', async () => {
    const file = await makeSource(path.join(work, 'talk.mp4'), { width: 1280, height: 720, seconds: 8 });
    const { stdout } = await run(
      process.execPath,
      [
        path.join(root, 'bin/onair.js'),
        'upload',
        file,
        '--title',
        'Quarterly talk',
        '--wait',
        '--url',
        server.url,
      ],
      { env: { ...process.env, ONAIR_API_KEY: server.apiKey }, timeout: 120_000 },
    );
    expect(stdout).toMatch(/ready: 720p, 480p, 360p, audio/);
    const playerUrl = /^player: (\S+)$/m.exec(stdout)?.[1];
    const hlsUrl = /^hls: +(\S+)$/m.exec(stdout)?.[1];
    expect(playerUrl).toBeDefined();
    expect(hlsUrl).toMatch(/master\.m3u8$/);

    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(playerUrl!);
      await page.waitForFunction(() => 'onairPlayer' in window, undefined, { timeout: 15_000 });
      const engine = await page.evaluate(
        () => (window as unknown as { onairPlayer: { engine: string } }).onairPlayer.engine,
      );
      expect(engine).toBe('hls.js');
      // hls.js, not Chromium's native HLS, attached a MediaSource to the element.
      expect(await page.evaluate(() => document.querySelector('video')!.src.startsWith('blob:'))).toBe(true);
      await page.evaluate(() => document.querySelector('video')!.play());
      await page.waitForFunction(() => document.querySelector('video')!.currentTime > 2, undefined, {
        timeout: 20_000,
      });
      expect(await page.textContent('h1')).toBe('Quarterly talk');
    } finally {
      await close();
    }
  });
});
