import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeMediaPlaylist, type PartialSegment } from '../../pipelines/hls-playlist.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import type { Db } from '../../src/db/database.ts';
import { publishLivePart, publishLivePlaylist } from '../../src/live/live-playlists.ts';
import { LIVE_REVISION } from '../../src/media/live-output.ts';
import { createOriginHandler, type OriginHandler } from '../../src/origin/origin-handler.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import {
  serverDatabase,
  serverStorage,
  startTestServer,
  type ServerStorage,
  type TestServer,
} from '../helpers/server.ts';

/**
 * Low-Latency HLS at the origin of a real onair (its own Redis): parts served from Redis and held
 * until published, and blocking playlist reloads (RFC 8216bis 6.2.5.2) held until the playlist
 * lists what they ask for. The live job is played by the test: it publishes playlists and parts to
 * that Redis as the job does, with `publishLivePlaylist` and `publishLivePart`.
 */

const RENDITION = '720p';
const PERIOD = 'p0001-ab12';
const partFile = (msn: number, index: number) =>
  `${PERIOD}/part_${String(msn).padStart(5, '0')}_${index}.m4s`;
const part = (msn: number, index: number): PartialSegment => ({
  uri: partFile(msn, index),
  duration: 1 / 3,
  independent: index === 0,
});

/**
 * A live LL-HLS rendition playlist whose last whole segment is `lastMsn` (three of them, three
 * parts each), with `pending` parts of the next one listed. Without `ll`, a plain live playlist.
 */
function llPlaylist(lastMsn: number, pending: number, opts: { targetDuration?: number; ll?: boolean } = {}) {
  const ll = opts.ll ?? true;
  const first = Math.max(0, lastMsn - 2);
  const segments = [];
  for (let msn = first; msn <= lastMsn; msn++) {
    segments.push({
      uri: `${PERIOD}/seg_${String(msn).padStart(5, '0')}.m4s`,
      duration: 1,
      ...(ll ? { parts: [0, 1, 2].map((i) => part(msn, i)) } : {}),
    });
  }
  return writeMediaPlaylist({
    targetDuration: opts.targetDuration ?? 1,
    mediaSequence: first,
    mapUri: `${PERIOD}/init.mp4`,
    segments,
    ended: false,
    ...(ll
      ? {
          lowLatency: {
            partTarget: 1 / 3,
            partHoldBack: 1,
            pendingParts: Array.from({ length: pending }, (_, i) => part(lastMsn + 1, i)),
            preloadHint: partFile(lastMsn + 1, pending),
            renditionReports: [],
          },
        }
      : {}),
  });
}

const ms = (since: number) => Math.round(performance.now() - since);
const sleep = (millis: number) => new Promise((r) => setTimeout(r, millis));

let server: TestServer;
let db: Db;
let redis: Redis;
let urls: PlaybackUrls;
/** Hold-to-answer delays measured (publish called → answer's headers back), for the run's log. */
const delays: Record<string, number> = {};

/** A live event's recording: growing, its preview the `live` revision, as the live job leaves it. */
async function liveAsset(name: string): Promise<string> {
  const id = `as_${name}${crypto.randomBytes(4).toString('hex')}`;
  const account = await createAccount(db, name);
  await insertAsset(db, {
    id,
    accountId: account.id,
    title: name,
    sourceKey: `sources/${id}/source`,
    sourceBytes: 1,
    sourceName: undefined,
  });
  await updateAsset(db, id, { status: 'processing', preview_revision: LIVE_REVISION });
  return id;
}

beforeAll(async () => {
  server = await startTestServer({ INGEST: 'off', WORKERS: '0' });
  db = serverDatabase(server);
  redis = new Redis(server.redisUrl, { maxRetriesPerRequest: 1 });
  urls = new PlaybackUrls(playbackKey(server.secret), 3600);
}, 60_000);

afterAll(async () => {
  if (Object.keys(delays).length > 0) console.info('LL-HLS hold-to-answer delays (ms):', delays);
  redis?.disconnect();
  await db?.destroy();
  await server?.close();
});

describe('LL-HLS at the origin', () => {
  let assetId: string;
  const url = (file: string, query = '') =>
    `${urls.url(server.url, 'a', assetId, LIVE_REVISION, file, urls.expiresAt())}${query}`;
  /** Each test has a rendition playlist of its own: what one test publishes is no other's concern. */
  let playlist = '';
  const playlistUrl = (query = '') => url(playlist, query);
  const publishPlaylist = (text: string) => publishLivePlaylist(redis, assetId, playlist, text);
  let tests = 0;

  beforeAll(async () => {
    assetId = await liveAsset('ll');
  });
  beforeEach(() => {
    playlist = `${++tests * 100}p/index.m3u8`;
  });

  it('serves a part from Redis with the headers of a segment (immutable, ETag, Range, 304, HEAD)', async () => {
    const bytes = crypto.randomBytes(5000);
    await publishLivePart(redis, assetId, `${RENDITION}/${partFile(10, 0)}`, bytes);
    const target = url(`${RENDITION}/${partFile(10, 0)}`);
    const whole = await fetch(target);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    expect(whole.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(whole.headers.get('content-type')).toBe('video/iso.segment');
    expect(whole.headers.get('access-control-allow-origin')).toBe('*');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const etag = whole.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);

    const range = await fetch(target, { headers: { range: 'bytes=100-199' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe('bytes 100-199/5000');
    expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
    const notModified = await fetch(target, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);
    const head = await fetch(target, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '5000']);

    // Never from storage: the live job does not store parts.
    const storage = await serverStorage(server);
    try {
      expect(await storage.stat(`assets/${assetId}/${LIVE_REVISION}/${RENDITION}/${partFile(10, 0)}`)).toBe(
        undefined,
      );
    } finally {
      storage.close();
    }
  });

  it('holds a part asked for before it is published, and answers it the moment it is', async () => {
    const file = `${RENDITION}/${partFile(10, 1)}`;
    const bytes = crypto.randomBytes(3000);
    const started = performance.now();
    const answer = fetch(url(file));
    await sleep(300);
    const published = performance.now();
    await publishLivePart(redis, assetId, file, bytes);
    const response = await answer;
    delays.part = ms(published);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(ms(started)).toBeGreaterThanOrEqual(290);
    expect(delays.part).toBeLessThan(500);
  });

  it('answers 404, not to be cached, for a part still missing after about 3 s', async () => {
    const started = performance.now();
    const response = await fetch(url(`${RENDITION}/${partFile(99, 0)}`));
    const waited = ms(started);
    expect(response.status).toBe(404);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(4500);
  });

  it('answers a blocking reload for what the playlist holds at once, cacheable for 6 s', async () => {
    await publishPlaylist(llPlaylist(12, 1));
    for (const query of ['?_HLS_msn=12', '?_HLS_msn=13&_HLS_part=0', '?_HLS_msn=11&_HLS_part=2']) {
      const started = performance.now();
      const response = await fetch(playlistUrl(query));
      expect(response.status, query).toBe(200);
      expect(await response.text(), query).toBe(llPlaylist(12, 1));
      expect(response.headers.get('cache-control'), query).toBe('public, max-age=6');
      expect(ms(started), query).toBeLessThan(1000);
    }
    // The plain playlist is as before.
    const plain = await fetch(playlistUrl());
    expect(plain.headers.get('cache-control')).toBe('public, max-age=1');
    expect(await plain.text()).toBe(llPlaylist(12, 1));
  });

  it('holds a blocking reload for the next part until a playlist listing it is published', async () => {
    await publishPlaylist(llPlaylist(20, 1));
    const started = performance.now();
    const answer = fetch(playlistUrl('?_HLS_msn=21&_HLS_part=1'));
    await sleep(200);
    // A change that does not bring the part (another rendition, then this one unchanged): still held.
    await publishLivePlaylist(redis, assetId, '360p/index.m3u8', llPlaylist(20, 2));
    await publishPlaylist(llPlaylist(20, 1));
    // Well within the 200 ms a copy is kept: the notice must drop it for the woken request.
    await sleep(50);
    const published = performance.now();
    await publishPlaylist(llPlaylist(20, 2));
    const response = await answer;
    delays.blockingPart = ms(published);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=6');
    const text = await response.text();
    expect(text).toBe(llPlaylist(20, 2));
    expect(text).toContain(`URI="${partFile(21, 1)}"`);
    expect(ms(started)).toBeGreaterThanOrEqual(240);
    expect(delays.blockingPart).toBeLessThan(500);

    // The next whole segment: held through the remaining part, answered when the segment is listed.
    const segment = fetch(playlistUrl('?_HLS_msn=21'));
    await sleep(100);
    await publishPlaylist(llPlaylist(20, 3));
    await sleep(50);
    const segmentPublished = performance.now();
    await publishPlaylist(llPlaylist(21, 0));
    const whole = await segment;
    delays.blockingSegment = ms(segmentPublished);
    expect(await whole.text()).toBe(llPlaylist(21, 0));
    expect(delays.blockingSegment).toBeLessThan(500);
    // Plain requests see the new playlist at once too (the copy kept here was dropped by the notice).
    expect(await (await fetch(playlistUrl())).text()).toBe(llPlaylist(21, 0));
  });

  it('holds a blocking reload of a playlist without LL-HLS tags by segment', async () => {
    await publishPlaylist(llPlaylist(30, 0, { ll: false }));
    const answer = fetch(playlistUrl('?_HLS_msn=31&_HLS_part=0'));
    await sleep(200);
    const published = performance.now();
    await publishPlaylist(llPlaylist(31, 0, { ll: false }));
    const response = await answer;
    delays.blockingNoLl = ms(published);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(llPlaylist(31, 0, { ll: false }));
    expect(delays.blockingNoLl).toBeLessThan(500);
  });

  it('refuses a request more than two segments ahead, and malformed directives, with 400 at once', async () => {
    await publishPlaylist(llPlaylist(40, 0));
    for (const query of [
      '?_HLS_msn=43',
      '?_HLS_msn=43&_HLS_part=0',
      '?_HLS_msn=041',
      '?_HLS_msn=-1',
      '?_HLS_msn=4x',
      '?_HLS_part=1',
      '?_HLS_msn=41&_HLS_part=',
    ]) {
      const started = performance.now();
      const response = await fetch(playlistUrl(query));
      expect(response.status, query).toBe(400);
      expect(response.headers.get('cache-control'), query).toBe('no-store');
      expect(await response.text(), query).toMatch(/_HLS_msn/);
      expect(ms(started), query).toBeLessThan(1000);
    }
    // Two segments ahead is still in range: held (then given up on below).
    const ahead = new AbortController();
    const held = fetch(playlistUrl('?_HLS_msn=42'), { signal: ahead.signal }).then(
      () => 'answered',
      () => 'aborted',
    );
    await sleep(300);
    ahead.abort();
    expect(await held).toBe('aborted');
  });

  it('gives up on a blocking reload after three target durations with 503', async () => {
    await publishPlaylist(llPlaylist(50, 0, { targetDuration: 1 }));
    const started = performance.now();
    const response = await fetch(playlistUrl('?_HLS_msn=51'));
    const waited = ms(started);
    expect(response.status).toBe(503);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(4500);
  });
});

/**
 * The origin's held requests, counted: an origin handler of the test's own over the same database
 * and Redis as the server above (the server's own handler is not reachable from here).
 */
describe('requests held by an origin', () => {
  let handler: OriginHandler;
  let storage: ServerStorage;
  let origin: http.Server;
  let base: string;
  let assetId: string;
  const SECRET = 'll-origin-test-secret';
  const own = new PlaybackUrls(SECRET, 3600);
  const url = (file: string, query = '') =>
    `${base}${own.url('', 'a', assetId, LIVE_REVISION, file, own.expiresAt())}${query}`;

  beforeAll(async () => {
    assetId = await liveAsset('held');
    storage = await serverStorage(server);
    handler = createOriginHandler({
      db,
      storage,
      redis,
      secret: SECRET,
      cacheBytes: 1 << 20,
      maxHeldRequests: 2,
    });
    origin = http.createServer(handler);
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(origin.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    origin?.closeAllConnections();
    await new Promise((resolve) => origin?.close(resolve));
    await handler?.close();
    storage?.close();
  });

  async function until(what: string, check: () => boolean): Promise<number> {
    const started = performance.now();
    while (!check()) {
      if (performance.now() - started > 2000) throw new Error(`timed out waiting for ${what}`);
      await sleep(5);
    }
    return ms(started);
  }

  it('are bounded (503 with Retry-After beyond the cap) and dropped at once when their client goes', async () => {
    await publishLivePlaylist(redis, assetId, `${RENDITION}/index.m3u8`, llPlaylist(5, 0));
    const clients = [new AbortController(), new AbortController()];
    const held = [
      fetch(url(`${RENDITION}/index.m3u8`, '?_HLS_msn=6'), { signal: clients[0]!.signal }),
      fetch(url(`${RENDITION}/${partFile(6, 0)}`), { signal: clients[1]!.signal }),
    ].map((p) => p.then((r) => r.status).catch(() => 'aborted'));
    await until('two held requests', () => handler.held() === 2);

    const refused = await fetch(url(`${RENDITION}/index.m3u8`, '?_HLS_msn=6&_HLS_part=0'));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('cache-control')).toBe('no-store');
    // A request that need not wait is not refused.
    expect((await fetch(url(`${RENDITION}/index.m3u8`, '?_HLS_msn=5'))).status).toBe(200);

    clients[0]!.abort();
    delays.droppedAfterAbort = await until('the aborted request to be let go', () => handler.held() === 1);
    clients[1]!.abort();
    await until('the other one too', () => handler.held() === 0);
    expect(await Promise.all(held)).toEqual(['aborted', 'aborted']);

    // Room again: a held request is answered when its part comes.
    const next = fetch(url(`${RENDITION}/${partFile(6, 0)}`));
    await until('a held request', () => handler.held() === 1);
    await publishLivePart(redis, assetId, `${RENDITION}/${partFile(6, 0)}`, Buffer.from('part'));
    expect(await (await next).text()).toBe('part');
    expect(handler.held()).toBe(0);
  });

  it('are answered 503 when the origin closes', async () => {
    const held = fetch(url(`${RENDITION}/${partFile(7, 0)}`));
    await until('a held request', () => handler.held() === 1);
    await handler.close();
    const response = await held;
    expect([response.status, response.headers.get('retry-after')]).toEqual([503, '1']);
    expect(handler.held()).toBe(0);
  });
});
