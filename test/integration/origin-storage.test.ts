import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionScopeId } from '../../src/automated/sessions.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { insertEvent, OPEN_GATE } from '../../src/db/events.ts';
import { publishLivePlaylist } from '../../src/live/live-playlists.ts';
import { revisionPrefix } from '../../src/media/layout.ts';
import { LIVE_REVISION } from '../../src/media/live-output.ts';
import { createOriginHandler } from '../../src/origin/origin-handler.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import type { TokenScope } from '../../src/origin/tokens.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import type { LocalCopy, Storage, StoredObject } from '../../src/storage/storage.ts';
import { S3RVER_REGION, startS3Server, useS3rverCredentials } from '../helpers/s3.ts';
import { startRedis } from '../helpers/redis.ts';

/**
 * The origin over real storage, a real Redis and a real database, through HTTP. The suite is a
 * function of a storage factory, so every adapter is held to the same answers.
 */
interface StorageUnderTest {
  readonly storage: Storage;
  close(): Promise<void>;
}
type StorageFactory = (work: string) => Promise<StorageUnderTest>;

const BACKENDS: [string, StorageFactory][] = [
  [
    'local disk',
    (work) => Promise.resolve({ storage: new LocalStorage(path.join(work, 'media')), close: async () => {} }),
  ],
  [
    'S3 (s3rver)',
    async () => {
      const server = await startS3Server();
      const restoreCredentials = useS3rverCredentials();
      try {
        await server.createBucket('onair-origin');
        const storage = new S3Storage({
          bucket: 'onair-origin',
          endpoint: server.endpoint,
          region: S3RVER_REGION,
          forcePathStyle: true,
          prefix: 'origin-test',
        });
        return {
          storage,
          async close() {
            storage.close();
            restoreCredentials();
            await server.stop();
          },
        };
      } catch (err) {
        restoreCredentials();
        await server.stop();
        throw err;
      }
    },
  ],
];

/** Same as the origin's: above this, objects are streamed, not kept. */
const MAX_CACHED_OBJECT = 8 * 1024 * 1024;
const SECRET = 'origin-storage-test-secret';

type Method = 'stat' | 'readBytes' | 'readText' | 'read';

/**
 * Counts what the origin asks of storage, per method and key. `hold` keeps byte reads waiting (so
 * concurrent requests pile up); `failing` keys make `stat` throw (storage unreachable).
 */
class CountingStorage implements Storage {
  readonly kind: Storage['kind'];
  readonly calls: { method: Method; key: string }[] = [];
  hold: Promise<void> | undefined;
  readonly failing = new Set<string>();

  constructor(private readonly inner: Storage) {
    this.kind = inner.kind;
  }

  count(method: Method, key: string): number {
    return this.calls.filter((c) => c.method === method && c.key === key).length;
  }

  putStream(key: string, body: Readable, opts?: { maxBytes?: number; contentType?: string }) {
    return this.inner.putStream(key, body, opts);
  }
  putBytes(key: string, body: Buffer | string, opts?: { contentType?: string }): Promise<void> {
    return this.inner.putBytes(key, body, opts);
  }
  async readText(key: string): Promise<string | undefined> {
    this.calls.push({ method: 'readText', key });
    return this.inner.readText(key);
  }
  async readBytes(key: string): Promise<Buffer | undefined> {
    this.calls.push({ method: 'readBytes', key });
    await this.hold;
    return this.inner.readBytes(key);
  }
  read(key: string, range?: { start: number; end: number }): Readable {
    this.calls.push({ method: 'read', key });
    return this.inner.read(key, range);
  }
  async stat(key: string): Promise<StoredObject | undefined> {
    this.calls.push({ method: 'stat', key });
    if (this.failing.has(key)) throw new Error(`storage unreachable (secret detail of ${key})`);
    return this.inner.stat(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  sizes(prefix: string): Promise<Map<string, number>> {
    return this.inner.sizes(prefix);
  }
  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }
  localCopy(key: string, scratchDir: string): Promise<LocalCopy> {
    return this.inner.localCopy(key, scratchDir);
  }
}

/** A VOD media playlist of `count` 4-second segments (RFC 8216 4.3). */
function vodPlaylist(count: number): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:4', '#EXT-X-MEDIA-SEQUENCE:0'];
  lines.push('#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MAP:URI="init.mp4"');
  for (let i = 1; i <= count; i++) lines.push('#EXTINF:4.000,', `seg_${String(i).padStart(5, '0')}.m4s`);
  return [...lines, '#EXT-X-ENDLIST', ''].join('\n');
}

function liveMediaPlaylist(firstSequence: number): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2'];
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${firstSequence}`, '#EXT-X-MAP:URI="init.mp4"');
  for (let i = firstSequence; i < firstSequence + 3; i++) lines.push('#EXTINF:2.000,', `p0001/seg_${i}.m4s`);
  return [...lines, ''].join('\n');
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const [backend, makeStorage] of BACKENDS) {
  describe(`the HLS origin over ${backend} storage and Redis`, () => {
    let work: string;
    let db: Db;
    let under: StorageUnderTest;
    let storage: CountingStorage;
    let redisServer: Awaited<ReturnType<typeof startRedis>>;
    let redis: Redis;
    let server: http.Server;
    let base: string;
    /** The origin's clock: moved by hand, so the ~200 ms revalidation is tested without sleeping. */
    let clock = Date.now();
    let arrived = 0;
    const urls = new PlaybackUrls(SECRET, 3600, () => clock);

    const vod = { id: 'as_originvod', revision: 'rev_vod1' };
    const growing = { id: 'as_origingrow', revision: 'rev_grow1' };
    const live = { id: 'as_originlive', revision: LIVE_REVISION };
    let webinarId: string;
    const segment = crypto.randomBytes(1000);
    const big = crypto.randomBytes(MAX_CACHED_OBJECT + 1024 * 1024);

    const key = (asset: { id: string; revision: string }, file: string) =>
      `${revisionPrefix(asset.id, asset.revision)}/${file}`;
    const url = (
      asset: { id: string; revision: string },
      file: string,
      scope: TokenScope = 'a',
      id = asset.id,
    ) => urls.url(base, scope, id, asset.revision, file, urls.expiresAt());
    const get = (target: string, headers: Record<string, string> = {}, method = 'GET') =>
      fetch(target, { method, headers });

    beforeAll(async () => {
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-origin-storage-'));
      under = await makeStorage(work);
      storage = new CountingStorage(under.storage);
      redisServer = await startRedis();
      redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
      db = openDatabase({ dataDir: work });
      await migrateToLatest(db);
      const account = await createAccount(db, 'origin');
      for (const asset of [vod, growing, live]) {
        await insertAsset(db, {
          id: asset.id,
          accountId: account.id,
          title: asset.id,
          sourceKey: `sources/${asset.id}/source`,
          sourceBytes: 1,
          sourceName: undefined,
        });
      }
      await updateAsset(db, vod.id, { status: 'ready', revision: vod.revision, duration_seconds: 12 });
      await updateAsset(db, growing.id, { status: 'processing', preview_revision: growing.revision });
      await updateAsset(db, live.id, { status: 'processing', preview_revision: LIVE_REVISION });

      const event = await insertEvent(db, {
        accountId: account.id,
        title: 'session',
        description: '',
        type: 'automated',
        assetId: vod.id,
        startsAt: new Date(clock).toISOString(),
        gate: OPEN_GATE,
        replayExpiresAt: null,
        schedule: { kind: 'on_demand', timezone: 'Europe/Rome' },
      });
      webinarId = event.webinar_id;

      await storage.putBytes(key(vod, 'master.m3u8'), '#EXTM3U\n');
      await storage.putBytes(key(vod, '360p/index.m3u8'), vodPlaylist(3));
      await storage.putBytes(key(vod, '360p/init.mp4'), Buffer.alloc(100, 1));
      for (const n of [1, 2, 3]) await storage.putBytes(key(vod, `360p/seg_0000${n}.m4s`), segment);
      await storage.putBytes(key(vod, 'thumbs/1.jpg'), Buffer.alloc(10));
      await storage.putBytes(key(vod, 'download/talk.mp4'), big);

      const handler = createOriginHandler({
        db,
        storage,
        redis,
        secret: SECRET,
        cacheBytes: 64 << 20,
        now: () => clock,
      });
      server = http.createServer((req, res) => {
        arrived++;
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    });

    afterAll(async () => {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      redis?.disconnect();
      await redisServer?.stop();
      await db?.destroy();
      await under?.close();
      fs.rmSync(work, { recursive: true, force: true });
    });

    it('serves a whole object with its storage ETag and Last-Modified, CORS and an immutable Cache-Control', async () => {
      const response = await get(url(vod, '360p/seg_00001.m4s'));
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(segment);
      const stat = (await under.storage.stat(key(vod, '360p/seg_00001.m4s')))!;
      expect(response.headers.get('etag')).toBe(stat.etag);
      expect(response.headers.get('last-modified')).toBe(stat.modified.toUTCString());
      expect(response.headers.get('content-type')).toBe('video/iso.segment');
      expect(response.headers.get('content-length')).toBe('1000');
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('accept-ranges')).toBe('bytes');
    });

    it('answers Range with 206, an unsatisfiable range with 416, If-None-Match with 304, and HEAD and OPTIONS', async () => {
      const target = url(vod, '360p/seg_00002.m4s');
      const part = await get(target, { range: 'bytes=10-19' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 10-19/1000');
      expect(Buffer.from(await part.arrayBuffer())).toEqual(segment.subarray(10, 20));
      const suffix = await get(target, { range: 'bytes=-5' });
      expect(suffix.status).toBe(206);
      expect(Buffer.from(await suffix.arrayBuffer())).toEqual(segment.subarray(995));

      const beyond = await get(target, { range: 'bytes=5000-' });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe('bytes */1000');
      await beyond.body?.cancel();

      const etag = part.headers.get('etag')!;
      const notModified = await get(target, { 'if-none-match': `"other", ${etag}` });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.get('etag')).toBe(etag);
      expect(await notModified.text()).toBe('');

      const head = await get(target, {}, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('1000');
      expect(await head.text()).toBe('');

      const options = await get(target, {}, 'OPTIONS');
      expect(options.status).toBe(204);
      expect(options.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
      // One object read for all of it: the rest came from memory.
      expect(storage.count('readBytes', key(vod, '360p/seg_00002.m4s'))).toBe(1);
    });

    it('answers 404 for a missing object or an unpublished revision, and 500 without details when storage fails', async () => {
      const missing = await get(url(vod, '360p/seg_00009.m4s'));
      expect(missing.status).toBe(404);
      await missing.body?.cancel();
      const unpublished = await get(url({ id: vod.id, revision: 'rev_other' }, 'master.m3u8'));
      expect(unpublished.status).toBe(404);
      await unpublished.body?.cancel();

      storage.failing.add(key(vod, '360p/init.mp4'));
      const failed = await get(url(vod, '360p/init.mp4'));
      storage.failing.clear();
      expect(failed.status).toBe(500);
      expect(failed.headers.get('cache-control')).toBe('no-store');
      expect(await failed.text()).toBe('');
      expect((await get(url(vod, '360p/init.mp4'))).status).toBe(200);
    });

    it(`streams an object over ${MAX_CACHED_OBJECT} bytes from storage, whole or by Range, without keeping it`, async () => {
      const target = url(vod, 'download/talk.mp4');
      const k = key(vod, 'download/talk.mp4');
      const part = await get(target, { range: `bytes=${MAX_CACHED_OBJECT - 8}-${MAX_CACHED_OBJECT + 7}` });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(
        `bytes ${MAX_CACHED_OBJECT - 8}-${MAX_CACHED_OBJECT + 7}/${big.length}`,
      );
      expect(Buffer.from(await part.arrayBuffer())).toEqual(
        big.subarray(MAX_CACHED_OBJECT - 8, MAX_CACHED_OBJECT + 8),
      );
      const whole = await get(target);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-length')).toBe(String(big.length));
      expect(Buffer.from(await whole.arrayBuffer()).equals(big)).toBe(true);
      const head = await get(target, {}, 'HEAD');
      expect(head.headers.get('content-length')).toBe(String(big.length));
      const tooFar = await get(target, { range: `bytes=${big.length}-` });
      expect(tooFar.status).toBe(416);
      await tooFar.body?.cancel();
      // Two streams (the Range and the whole), never a whole read into memory; stat once.
      expect(storage.count('read', k)).toBe(2);
      expect(storage.count('readBytes', k)).toBe(0);
      expect(storage.count('stat', k)).toBe(1);
    });

    it('sees a growing playlist updated in storage within ~200 ms, without asking storage more often', async () => {
      const k = key(growing, '360p/index.m3u8');
      const target = url(growing, '360p/index.m3u8');
      await storage.putBytes(k, vodPlaylist(1).replace('#EXT-X-ENDLIST\n', ''));
      const first = await get(target);
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('public, max-age=1');
      expect(await first.text()).toContain('seg_00001.m4s');

      await storage.putBytes(k, vodPlaylist(2).replace('#EXT-X-ENDLIST\n', ''));
      const stats = storage.count('stat', k);
      clock += 150;
      expect(await (await get(target)).text()).not.toContain('seg_00002.m4s');
      expect(storage.count('stat', k)).toBe(stats);
      clock += 60;
      const updated = await get(target);
      expect(await updated.text()).toContain('seg_00002.m4s');
      expect(updated.headers.get('etag')).not.toBe(first.headers.get('etag'));
      expect(storage.count('stat', k)).toBe(stats + 1);

      // Unchanged: checked by etag, not read again.
      const reads = storage.count('readBytes', k);
      clock += 210;
      expect((await get(target)).status).toBe(200);
      expect(storage.count('readBytes', k)).toBe(reads);

      // Published: the final playlist replaces the growing one at once, then it is immutable.
      await storage.putBytes(k, vodPlaylist(2));
      await updateAsset(db, growing.id, {
        status: 'ready',
        revision: growing.revision,
        preview_revision: null,
      });
      clock += 1001; // the scope cache
      const published = await get(target);
      expect(await published.text()).toContain('#EXT-X-ENDLIST');
      expect(published.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const afterPublish = storage.count('stat', k);
      clock += 5000;
      expect((await get(target)).status).toBe(200);
      expect(storage.count('stat', k)).toBe(afterPublish);
    });

    it('serves a live playlist from Redis (max-age=1, ETag of its text, 304), refreshed within ~200 ms, storage when Redis has none', async () => {
      const rendition = key(live, '360p/index.m3u8');
      await storage.putBytes(rendition, liveMediaPlaylist(1)); // what the job also wrote to storage, older
      await storage.putBytes(key(live, '720p/index.m3u8'), liveMediaPlaylist(1));
      await publishLivePlaylist(redis, live.id, '360p/index.m3u8', liveMediaPlaylist(5));
      await publishLivePlaylist(
        redis,
        live.id,
        'master.m3u8',
        '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n',
      );

      const target = url(live, '360p/index.m3u8');
      const first = await get(target);
      expect(first.status).toBe(200);
      expect(await first.text()).toBe(liveMediaPlaylist(5));
      expect(first.headers.get('cache-control')).toBe('public, max-age=1');
      expect(first.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      const again = await get(target, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(await (await get(url(live, 'master.m3u8'))).text()).toContain('360p/index.m3u8');
      expect(storage.count('stat', rendition) + storage.count('readBytes', rendition)).toBe(0);

      await publishLivePlaylist(redis, live.id, '360p/index.m3u8', liveMediaPlaylist(6));
      clock += 100;
      expect(await (await get(target)).text()).toBe(liveMediaPlaylist(5));
      clock += 110;
      const next = await get(target, { 'if-none-match': etag });
      expect(next.status).toBe(200);
      expect(await next.text()).toBe(liveMediaPlaylist(6));
      expect(next.headers.get('etag')).not.toBe(etag);

      const fromStorage = await get(url(live, '720p/index.m3u8'));
      expect(fromStorage.status).toBe(200);
      expect(await fromStorage.text()).toBe(liveMediaPlaylist(1));
      expect(fromStorage.headers.get('cache-control')).toBe('public, max-age=1');
    });

    it('reads a live segment from storage once however many viewers ask for it at the same moment', async () => {
      const file = '360p/p0001/seg_7.m4s';
      const k = key(live, file);
      const bytes = crypto.randomBytes(50_000);
      await storage.putBytes(k, bytes);
      const target = url(live, file);
      let release!: () => void;
      storage.hold = new Promise<void>((resolve) => (release = resolve));
      const viewers = 24;
      const before = arrived;
      const responses = Array.from({ length: viewers }, () => get(target));
      try {
        await until('every request to reach the origin', () => arrived - before === viewers);
        // Every request is now in the origin, waiting on the one read in flight.
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        release();
        storage.hold = undefined;
      }
      const bodies = await Promise.all(
        (await Promise.all(responses)).map(async (r) => {
          expect(r.status).toBe(200);
          expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
          return Buffer.from(await r.arrayBuffer());
        }),
      );
      for (const body of bodies) expect(body.equals(bytes)).toBe(true);
      expect(storage.count('stat', k)).toBe(1);
      expect(storage.count('readBytes', k)).toBe(1);
      // Kept: later viewers cost nothing either.
      expect((await get(target)).status).toBe(200);
      expect(storage.count('readBytes', k)).toBe(1);
    });

    it('serves an automated session from the rendition playlist in storage, read and parsed once', async () => {
      // A session that started 5 to 6 s ago: its segments start at 0, 4 and 8 s.
      const scope = sessionScopeId(webinarId, Math.floor(clock / 1000) * 1000 - 5000);
      const sessionUrl = (file: string) => url(vod, file, 'e', scope);
      const playlist = await get(sessionUrl('360p/index.m3u8'));
      expect(playlist.status).toBe(200);
      const text = await playlist.text();
      expect(text).toContain('seg_00002.m4s');
      expect(text).not.toContain('seg_00003.m4s');
      const started = await get(sessionUrl('360p/seg_00002.m4s'));
      expect(started.status).toBe(200);
      expect(Buffer.from(await started.arrayBuffer())).toEqual(segment);
      const notYet = await get(sessionUrl('360p/seg_00003.m4s'));
      expect(notYet.status).toBe(403);
      expect(await notYet.text()).toBe('not yet');
      expect((await get(sessionUrl('360p/init.mp4'))).status).toBe(200);
      expect((await get(sessionUrl('thumbs/1.jpg'))).status).toBe(404);

      clock += 4000; // the third segment's time has come
      expect((await get(sessionUrl('360p/seg_00003.m4s'))).status).toBe(200);
      expect(await (await get(sessionUrl('360p/index.m3u8'))).text()).toContain('seg_00003.m4s');
      expect(storage.count('readText', key(vod, '360p/index.m3u8'))).toBe(1);
    });
  });
}
