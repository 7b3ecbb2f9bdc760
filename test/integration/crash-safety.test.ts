import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnrecoverableError } from 'bullmq';
import { OnairClient } from '../../src/cli/api-client.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { findAsset, insertAsset } from '../../src/db/assets.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { newId } from '../../src/ids.ts';
import { createLogger } from '../../src/log.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import {
  createTranscodeVodProcessor,
  TRANSCODE_MAX_STALLS,
  type TranscodeJob,
} from '../../workers/transcode-vod.ts';
import { until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer } from '../helpers/server.ts';
import { startOnair, type OnairProcess } from '../helpers/onair-process.ts';

let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-crash-'));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface ProcessInfo {
  pid: number;
  ppid: number;
  args: string[];
}

/** Every live (not zombie) process, read from /proc. */
function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const args = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      found.push({ pid: Number(name), ppid: Number(ppid), args });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

/** ffmpeg processes whose arguments point into `dir`. */
function ffmpegsIn(dir: string): ProcessInfo[] {
  return processes().filter(
    (p) => path.basename(p.args[0] ?? '') === 'ffmpeg' && p.args.some((a) => a.includes(dir)),
  );
}

function isAlive(pid: number): boolean {
  return processes().some((p) => p.pid === pid);
}

/** Every path under `dir`, relative to it. */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

function revisionOf(masterUrl: string): string {
  // /s/<hash>/<expires>/a/<asset>/<revision>/master.m3u8
  return new URL(masterUrl).pathname.split('/')[6]!;
}

describe('a worker SIGKILLed mid-transcode', () => {
  it('ten times in a row: the asset still ends ready, with one revision, no orphan ffmpeg, no scratch', async () => {
    const source = await makeSource(path.join(work, 'talk.mp4'), { width: 1280, height: 720, seconds: 8 });
    // A short lock so a dead worker's job is taken over within a couple of seconds.
    const server = await startTestServer({ JOB_LOCK_MS: '2000' });
    const media = path.join(server.dataDir, 'media');
    try {
      const asset = await server.client.upload(source, 'crash loop');
      const killed = new Set<number>();
      for (let kill = 1; kill <= 10; kill++) {
        const victim = await until(
          `a worker running ffmpeg (kill ${kill})`,
          async () => {
            const a = await server.client.getAsset(asset.id);
            if (a.status === 'ready' || a.status === 'failed') {
              throw new Error(`asset ${a.status} before kill ${kill}: ${a.error ?? 'no error'}`);
            }
            if (a.status !== 'processing') return undefined;
            const workers = server.workerPids().filter((pid) => !killed.has(pid));
            return ffmpegsIn(media).find((p) => workers.includes(p.ppid));
          },
          60_000,
        );
        killed.add(victim.ppid);
        process.kill(victim.ppid, 'SIGKILL');
        // Its ffmpeg goes with it, rather than encoding on beside the next attempt.
        await until(`the killed worker's ffmpeg to exit (kill ${kill})`, () => !isAlive(victim.pid), 5000);
      }
      const done = await server.client.waitForAsset(asset.id, undefined, 200);
      expect(done.status, done.error ?? '').toBe('ready');
      expect(done.attempts).toBeGreaterThanOrEqual(11);

      // Exactly one revision in storage, the published one, and no temporary file inside it.
      const revision = revisionOf(done.playback!.master);
      const assetDir = path.join(media, 'assets', asset.id);
      expect(fs.readdirSync(assetDir)).toEqual([revision]);
      expect(tree(assetDir).filter((f) => /\.(tmp|part)$/.test(f))).toEqual([]);
      // Scratch is local to each worker: the killed workers' folders went when the next one started,
      // and the attempt that finished removed its own.
      expect(tree(path.join(server.dataDir, 'scratch')).filter((f) => f.includes(asset.id))).toEqual([]);
      expect(fs.existsSync(path.join(assetDir, revision, 'master.m3u8'))).toBe(true);
      expect((await fetch(done.playback!.master)).status).toBe(200);
      // No ffmpeg left running for this DATA_DIR, neither the last one nor the killed workers' ones.
      expect(ffmpegsIn(server.dataDir)).toEqual([]);
      for (const pid of killed) expect(isAlive(pid)).toBe(false);
    } finally {
      await server.close();
    }
    expect(ffmpegsIn(server.dataDir)).toEqual([]);
    // About 6 s a kill on two idle cores (worker start-up, lock expiry, probe); more on a busy machine.
  }, 240_000);
});

describe('a transcode that takes its worker down every time', () => {
  it(`ends failed, in words, at its ${TRANSCODE_MAX_STALLS}th stall (before BullMQ would fail it silently)`, async () => {
    const dataDir = path.join(work, 'stalls');
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' });
    const db = openDatabase(config);
    try {
      await migrateToLatest(db);
      const storage = new LocalStorage(path.join(dataDir, 'media'));
      const scratchDir = path.join(dataDir, 'scratch');
      fs.mkdirSync(scratchDir, { recursive: true });
      const account = await createAccount(db, 'test');
      const transcode = createTranscodeVodProcessor({
        db,
        storage,
        scratchDir,
        config,
        log: createLogger('error'),
        // Not reached on these paths.
        sink: undefined as never,
        redis: undefined as never,
        queues: undefined as never,
        secret: 'x'.repeat(32),
      });
      const run = async (stalledCounter: number) => {
        const assetId = newId('as');
        await insertAsset(db, {
          id: assetId,
          accountId: account.id,
          title: 'poison',
          sourceKey: `sources/${assetId}/source`,
          sourceBytes: 1,
          sourceName: undefined,
        });
        // What dead attempts left behind (on any machine: found through storage, not a folder).
        await storage.putBytes(`assets/${assetId}/rev_dead/720p/seg_00001.m4s`, 'half an encode');
        await storage.putBytes(`assets/${assetId}/rev_dead2/master.m3u8`, '#EXTM3U\n');
        const job = {
          id: assetId,
          data: { assetId },
          attemptsMade: 0,
          opts: { attempts: 3 },
          stalledCounter,
        };
        const error = await transcode(job as unknown as TranscodeJob).catch((err: unknown) => err);
        return {
          error,
          asset: await findAsset(db, assetId),
          leftovers: fs.readdirSync(path.join(dataDir, 'media', 'assets', assetId)),
          scratch: fs.readdirSync(scratchDir),
        };
      };
      // Below the limit it runs (and fails at once here: there is no source file), clears what the
      // dead attempts left, and removes its scratch folder.
      const below = await run(TRANSCODE_MAX_STALLS - 1);
      expect(below.error).toBeInstanceOf(UnrecoverableError);
      expect(below.asset?.error).toMatch(/no longer in storage/);
      expect(below.leftovers).toEqual([]);
      expect(below.scratch).toEqual([]);
      // At the limit it stops, says why on the asset, and clears what the dead attempts left.
      const at = await run(TRANSCODE_MAX_STALLS);
      expect(at.error).toBeInstanceOf(UnrecoverableError);
      expect(at.asset?.status).toBe('failed');
      expect(at.asset?.error).toMatch(new RegExp(`interrupted ${TRANSCODE_MAX_STALLS} times`));
      expect(at.leftovers).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

/** Every process below `pid`, at any depth. */
function descendants(pid: number): ProcessInfo[] {
  const all = processes();
  const found: ProcessInfo[] = [];
  const parents = [pid];
  while (parents.length > 0) {
    const parent = parents.pop()!;
    for (const p of all.filter((q) => q.ppid === parent)) {
      found.push(p);
      parents.push(p.pid);
    }
  }
  return found;
}

/** Files under `dir` (relative), without folders. */
function files(dir: string): string[] {
  return tree(dir).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

describe('the API SIGKILLed during an upload', () => {
  it('leaves no half object and no row for it, takes its children along, and starts again', async () => {
    const dataDir = path.join(work, 'api');
    const sources = path.join(dataDir, 'media', 'sources');
    const first = await startOnair(dataDir);
    const apiKey = first.apiKey;
    expect(apiKey).toMatch(/^onair_/);
    // The key is never printed where a log collector would keep it.
    expect(first.output()).not.toContain(apiKey);
    let second: OnairProcess | undefined;
    try {
      const children = await until('workers, ingest and redis to be running', () => {
        const below = descendants(first.pid);
        const has = (what: string) => below.some((p) => p.args.some((a) => a.includes(what)));
        return has('workers/main.ts') && has('ingest-main.ts') && has('onair-redis') && has('redis-server')
          ? below
          : undefined;
      });

      // A 48 MiB upload, streamed slowly, cut off when about 8 MiB have reached the disk.
      const total = 48 * 1024 * 1024;
      const request = http.request(`${first.url}/api/assets?title=cut&filename=big.mp4`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/octet-stream',
          'content-length': String(total),
        },
      });
      const outcome = new Promise<string>((resolve) => {
        request.on('response', (res) => resolve(`HTTP ${res.statusCode}`));
        request.on('error', (err) => resolve(err.message));
      });
      const chunk = Buffer.alloc(256 * 1024, 7);
      let sent = 0;
      const writer = setInterval(() => {
        if (sent < total / 2) {
          request.write(chunk);
          sent += chunk.length;
        }
      }, 10);
      const partial = await until('part of the upload on disk', () =>
        files(sources).find((f) => fs.statSync(path.join(sources, f)).size >= 8 * 1024 * 1024),
      );
      first.kill('SIGKILL');
      await first.exited;
      clearInterval(writer);
      expect(await outcome).not.toMatch(/^HTTP 2/);
      // What the cut upload left: a temporary file, never the object under its own key.
      expect(partial).not.toMatch(/\/source$/);

      // Every child goes with it: worker processes, the ingest, the redis watchdog and redis-server.
      await until(
        'every child of the killed server to exit',
        () => children.every((p) => !isAlive(p.pid)),
        15_000,
      );

      // A source stored whole whose row was never written (a kill between the two): abandoned as well.
      const orphan = path.join(sources, 'as_0rphan0rphan0rphan', 'source');
      fs.mkdirSync(path.dirname(orphan), { recursive: true });
      fs.writeFileSync(orphan, 'a whole file nobody knows about');

      second = await startOnair(dataDir);
      expect(second.output()).not.toContain('onair_');
      const client = new OnairClient(second.url, apiKey);
      // No half object and no orphan left in storage; no row for the cut upload.
      expect(files(sources)).toEqual([]);
      expect((await client.listAssets()).assets).toEqual([]);

      // The API works: an upload is stored, its row names exactly the bytes on disk, and it plays.
      const clip = await makeSource(path.join(work, 'small.mp4'), { width: 320, height: 240, seconds: 2 });
      const asset = await client.upload(clip, 'after the crash');
      expect(files(sources)).toEqual([`${asset.id}/source`]);
      expect(fs.statSync(path.join(sources, asset.id, 'source')).size).toBe(fs.statSync(clip).size);
      expect(asset.source.bytes).toBe(fs.statSync(clip).size);
      const done = await client.waitForAsset(asset.id, undefined, 200);
      expect(done.status, done.error ?? '').toBe('ready');
      expect((await fetch(done.playback!.master)).status).toBe(200);
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await second?.exited;
    }
    expect(processes().filter((p) => p.args.some((a) => a.includes(dataDir)))).toEqual([]);
  }, 180_000);
});
