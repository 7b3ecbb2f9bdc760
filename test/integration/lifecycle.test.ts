import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnairClient } from '../../src/cli/api-client.ts';
import { makeSource } from '../helpers/media.ts';
import { childProcesses, isAlive, startOnair } from '../helpers/onair-process.ts';
import { startTestServer } from '../helpers/server.ts';

let work: string;
let longSource: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-life-'));
  longSource = await makeSource(path.join(work, 'long.mp4'), { width: 1920, height: 1080, seconds: 30 });
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Processes whose command line mentions `needle` (ffmpeg and redis-server started for one DATA_DIR). */
function processesMentioning(needle: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo'));
}

function redisPidOf(dataDir: string): number {
  return Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8'));
}

describe('npm start lifecycle', () => {
  it('starts its own redis-server, prints the key once, and SIGTERM leaves no ffmpeg or redis-server behind', async () => {
    const dataDir = path.join(work, 'data');
    const first = await startOnair(dataDir);
    try {
      const key = first.apiKey;
      expect(key).toMatch(/^onair_/);
      expect(first.output()).not.toContain(key);
      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      const redisPid = redisPidOf(dataDir);
      expect(isAlive(redisPid)).toBe(true);

      const client = new OnairClient(first.url, key);
      const asset = await client.upload(longSource, 'shutdown');
      for (;;) {
        const a = await client.getAsset(asset.id);
        if (a.stage === 'transcoding' && a.progress > 5) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Its ffmpeg reads under DATA_DIR: the stored source (local disk), or its scratch copy (S3).
      expect(processesMentioning(dataDir).some((l) => l.includes('ffmpeg'))).toBe(true);
      first.kill('SIGTERM');
      expect(await first.exited).toBe(0);
      expect(processesMentioning(dataDir)).toEqual([]);
      expect(isAlive(redisPid)).toBe(false);

      // Restart: the key is not printed again, and the interrupted job finishes.
      const again = await startOnair(dataDir);
      try {
        expect(again.output()).not.toContain('onair_');
        const done = await new OnairClient(again.url, key).waitForAsset(asset.id, undefined, 250);
        expect(done.status, done.error ?? '').toBe('ready');
        // The crash cost one attempt; a worker starved of CPU long enough to lose its job lock
        // (JOB_LOCK_MS is 3 s in tests) may add one more, which is a retry too, not a failure.
        expect(done.attempts).toBeGreaterThanOrEqual(2);
        // Even a SIGKILL of onair leaves no redis-server behind (its watchdog sees the pipe close).
        const redisPid2 = redisPidOf(dataDir);
        again.kill('SIGKILL');
        await again.exited;
        const deadline = Date.now() + 10_000;
        while (isAlive(redisPid2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(isAlive(redisPid2)).toBe(false);
      } finally {
        again.kill('SIGKILL');
      }
    } finally {
      first.kill('SIGKILL');
    }
  });
});

describe('HTTP_PROCESSES', () => {
  it('serves the API and the origin from several processes on one port, and stops them all', async () => {
    const server = await startTestServer({ HTTP_PROCESSES: '2' });
    let workers: number[] | undefined;
    try {
      const source = await makeSource(path.join(work, 'cluster.mp4'), {
        width: 640,
        height: 360,
        seconds: 3,
      });
      const asset = await server.client.waitForAsset(
        (await server.client.upload(source, 'cluster')).id,
        undefined,
        200,
      );
      expect(asset.status, asset.error ?? '').toBe('ready');
      // Both processes answer with the same signing secret: every request succeeds.
      const statuses = await Promise.all(
        Array.from({ length: 20 }, async () => (await fetch(asset.playback!.master)).status),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
      // This server's own HTTP processes (children of this test process): another test run on the
      // same machine (npm test runs two side by side) may have HTTP processes of its own.
      workers = childProcesses(process.pid)
        .filter((p) => p.cmdline.includes('http-worker.ts'))
        .map((p) => p.pid);
      expect(workers.length).toBeGreaterThanOrEqual(2);
    } finally {
      await server.close();
    }
    expect((workers ?? []).filter(isAlive)).toEqual([]);
  });
});

describe('transient failures', () => {
  it('retries a job whose ffmpeg fails once, and the asset ends ready', async () => {
    // An ffmpeg that crashes on its first transcode, as a full disk or an OOM kill would.
    const marker = path.join(work, 'failed-once');
    const wrapper = path.join(work, 'flaky-ffmpeg.sh');
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\nif [ ! -e ${marker} ]; then touch ${marker}; echo "simulated crash" >&2; exit 1; fi\nexec ffmpeg "$@"\n`,
      { mode: 0o755 },
    );
    const server = await startTestServer({ FFMPEG_PATH: wrapper });
    try {
      const source = await makeSource(path.join(work, 'short.mp4'), { width: 640, height: 360, seconds: 3 });
      const asset = await server.client.upload(source, 'flaky');
      const seen = new Set<string>();
      const done = await server.client.waitForAsset(asset.id, (a) => seen.add(a.stage), 200);
      expect(done.status, done.error ?? '').toBe('ready');
      expect(done.attempts).toBe(2);
      expect(done.error).toBeNull();
      expect(seen.has('retrying')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
