import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnairClient } from '../../src/cli/api-client.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer } from '../helpers/server.ts';

const root = path.resolve(import.meta.dirname, '../..');
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('npm start lifecycle', () => {
  it('starts its own redis-server, prints the key once, and SIGTERM leaves no ffmpeg or redis-server behind', async () => {
    const dataDir = path.join(work, 'data');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!/onair is up at (\S+)/.test(stdout) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const url = /onair is up at (\S+)/.exec(stdout)![1]!;
      const key = /^\s+(onair_\S+)$/m.exec(stdout)![1]!;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const redisPid = Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8'));
      expect(isAlive(redisPid)).toBe(true);

      const client = new OnairClient(url, key);
      const asset = await client.upload(longSource, 'shutdown');
      for (;;) {
        const a = await client.getAsset(asset.id);
        if (a.stage === 'transcoding' && a.progress > 5) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(processesMentioning(path.join(dataDir, 'media')).some((l) => l.includes('ffmpeg'))).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(processesMentioning(dataDir)).toEqual([]);
      expect(isAlive(redisPid)).toBe(false);

      // Restart: the key is not printed again, and the interrupted job finishes.
      const again = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          LOG_LEVEL: 'warn',
          REDIS_URL: '',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out2 = '';
      again.stdout.on('data', (c: Buffer) => (out2 += c.toString()));
      const exited2 = new Promise<number | null>((resolve) => again.once('exit', (code) => resolve(code)));
      while (!/onair is up at (\S+)/.test(out2)) await new Promise((r) => setTimeout(r, 100));
      expect(out2).not.toContain('onair_');
      const client2 = new OnairClient(/onair is up at (\S+)/.exec(out2)![1]!, key);
      const done = await client2.waitForAsset(asset.id, undefined, 250);
      expect(done.status, done.error ?? '').toBe('ready');
      expect(done.attempts).toBe(2);
      const redisPid2 = Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8'));
      // Even a SIGKILL of onair leaves no redis-server behind (its watchdog sees the pipe close).
      again.kill('SIGKILL');
      await exited2;
      const deadline2 = Date.now() + 10_000;
      while (isAlive(redisPid2) && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(redisPid2)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
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
