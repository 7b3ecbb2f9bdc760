import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VideoFacts } from '../../pipelines/source-facts.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import { publishLivePlaylist, readLivePlaylist } from '../../src/live/live-playlists.ts';
import type { Logger } from '../../src/log.ts';
import { LiveOutput } from '../../src/media/live-output.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { startRedis } from '../helpers/redis.ts';

/**
 * A live worker that lost its job's lock without knowing yet (too slow to renew it) must not
 * write over the worker that took the stream over: each run claims the output with a token of its
 * own in Redis, and every write checks it (the playlist write itself atomically, in Lua).
 */
const video: VideoFacts = {
  codec: 'h264',
  width: 1280,
  height: 720,
  displayWidth: 1280,
  displayHeight: 720,
  rotation: 0,
  frameRate: { num: 30, den: 1 },
  pixelFormat: 'yuv420p',
};
const warnings: string[] = [];
const log: Logger = {
  debug() {},
  info() {},
  warn: (msg) => void warnings.push(msg),
  error() {},
  child: () => log,
};

let redisServer: Awaited<ReturnType<typeof startRedis>>;
let redis: Redis;
let work: string;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = new Redis(redisServer.url);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-fence-'));
});

afterAll(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('live output fencing', () => {
  it('refuses every write of the previous owner once another run has claimed the output', async () => {
    const storage = new LocalStorage(work);
    const options = (owner: string) => ({
      storage,
      redis,
      assetId: 'as_fenced',
      window: { windowSeconds: 6, minSegments: 2, segmentSeconds: 2 },
      log,
      owner,
    });
    const stale = await LiveOutput.resume(options('worker-a'));
    await stale.setLayout({ ladder: selectLadder(video, DEFAULT_LADDER_POLICY), audio: true });
    await stale.beginPeriod();
    const state = () => storage.readText('assets/as_fenced/live/live.json');
    const periods = (text: string | undefined) =>
      (JSON.parse(text!) as { periods: { name: string }[] }).periods;
    const before = await state();
    expect(periods(before)).toHaveLength(1);

    // Another worker takes the stream over: it reads what the first one stored, then owns it.
    const owner = await LiveOutput.resume(options('worker-b'));
    const { name } = await owner.beginPeriod();
    const taken = await state();
    expect(periods(taken)).toHaveLength(2);

    // The first one goes on as if nothing happened: nothing it writes lands.
    await stale.beginPeriod();
    expect(await state()).toBe(taken);
    expect(warnings).toContain('another worker owns this live stream now; this one writes no more');
    expect(periods(await state()).at(-1)!.name).toBe(name);

    // The playlist write is checked atomically with the claim.
    expect(await publishLivePlaylist(redis, 'as_fenced', '720p/index.m3u8', '#EXTM3U\n', 'worker-a')).toBe(
      false,
    );
    expect(await readLivePlaylist(redis, 'as_fenced', '720p/index.m3u8')).toBeUndefined();
    expect(await publishLivePlaylist(redis, 'as_fenced', '720p/index.m3u8', '#EXTM3U\n', 'worker-b')).toBe(
      true,
    );
    expect(await readLivePlaylist(redis, 'as_fenced', '720p/index.m3u8')).toBe('#EXTM3U\n');
  });
});
