import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseMasterPlaylist,
  parseMediaPlaylist,
  writeMediaPlaylist,
  type PartialSegment,
} from '../../pipelines/hls-playlist.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import { publishLivePart, publishLivePlaylist } from '../../src/live/live-playlists.ts';
import { LIVE_REVISION } from '../../src/media/live-output.ts';
import { playbackKey, signedPath } from '../../src/origin/tokens.ts';
import { freePort } from '../../src/net/free-ports.ts';
import { until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';
import { findNginx } from '../helpers/nginx.ts';

/**
 * The nginx edge as operators run it (infra/nginx/run-edge.sh rendering infra/nginx/onair-edge.conf)
 * in front of a real onair. Between them, two counting proxies stand in for two origins: they record
 * every request that gets past the edge, and can answer 502 or go away altogether.
 */

const root = path.resolve(import.meta.dirname, '../..');

interface Origin {
  readonly port: number;
  /** Request targets (path and query) as the origin received them. */
  readonly requests: string[];
  /** 'pass' forwards to onair; '502' answers Bad Gateway without asking it. */
  mode: 'pass' | '502';
  /** Paths whose Cache-Control is rewritten to a live playlist's `public, max-age=1`. */
  readonly shortLived: Set<string>;
  /** Holds answers to targets containing this text for 400 ms (a blocking playlist request). */
  hold: string | undefined;
  /** Versions of the fake live playlist handed out (each plain request gets a new one). */
  liveVersion: number;
  /** Live playlists are answered here (the default) or, when false, passed to onair like the rest. */
  fakeLive: boolean;
  close(): Promise<void>;
}

/** `log` collects the requests of every origin, in the order they arrived. */
async function startOrigin(target: URL, log: string[]): Promise<Origin> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    origin.requests.push(url);
    log.push(url);
    if (origin.mode === '502') {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('origin away');
      return;
    }
    // A live event's playlist (the `live` revision), answered here: it changes with every request.
    if (origin.fakeLive && url.includes('/live/') && url.split('?')[0]!.endsWith('.m3u8')) {
      const n = url.includes('?') ? 0 : ++origin.liveVersion;
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': 'public, max-age=1',
      });
      res.end(`#EXTM3U\n# version ${origin.port}.${n}\n`);
      return;
    }
    const forward = () => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: url,
          method: req.method,
          headers: req.headers,
          agent,
        },
        (answer) => {
          const headers = { ...answer.headers };
          if (origin.shortLived.has(url.split('?')[0]!)) headers['cache-control'] = 'public, max-age=1';
          res.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    };
    if (origin.hold && url.includes(origin.hold)) setTimeout(forward, 400);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin: Origin = {
    port: (server.address() as net.AddressInfo).port,
    requests: [],
    mode: 'pass',
    shortLived: new Set(),
    hold: undefined,
    liveVersion: 0,
    fakeLive: true,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
  return origin;
}

interface Edge {
  readonly port: number;
  readonly accessLog: string;
  /** What nginx (and the script) wrote to stderr, for failure messages. */
  stderr(): string;
  stop(): Promise<void>;
}

async function startEdge(nginx: string, key: string, origins: readonly Origin[], dir: string): Promise<Edge> {
  const port = await freePort();
  const accessLog = path.join(dir, 'access.log');
  const child: ChildProcess = spawn(
    'bash',
    [
      path.join(root, 'infra/nginx/run-edge.sh'),
      '--port',
      `127.0.0.1:${port}`,
      ...origins.flatMap((o) => ['--origin', `127.0.0.1:${o.port}`]),
      '--dir',
      path.join(dir, 'edge'),
      '--access-log',
      accessLog,
      '--cache-size',
      '100m',
      '--workers',
      '1',
    ],
    { env: { ...process.env, ONAIR_EDGE_KEY: key, ONAIR_NGINX: nginx }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const edge: Edge = {
    port,
    accessLog,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  await until('the edge to listen', async () => {
    if (child.exitCode !== null) throw new Error(`run-edge.sh exited with ${child.exitCode}: ${stderr}`);
    return new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
  });
  return edge;
}

const nginx = findNginx();

describe.skipIf(!nginx)('the nginx edge in front of onair (skipped when nginx is not installed)', () => {
  let work: string;
  let server: TestServer;
  let key: string;
  let assetId: string;
  let revision: string;
  let edge: Edge;
  const origins: Origin[] = [];
  const originLog: string[] = [];
  /** Files below the revision: the master and a media playlist, its init segment and two segments. */
  const file = { master: 'master.m3u8', playlist: '', init: '', segment: '', shortSegment: '' };
  const expires = Math.floor(Date.now() / 1000) + 3600;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-edge-'));
    const [source, started] = await Promise.all([
      makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 4 }),
      startTestServer(),
    ]);
    server = started;
    const asset = await server.client.waitForAsset(
      (await server.client.upload(source, 'edge')).id,
      undefined,
      200,
    );
    expect(asset.status, asset.error ?? '').toBe('ready');
    const master = asset.playback!.master;
    assetId = asset.id;
    revision = master.split('/').at(-2)!;
    const base = master.slice(0, master.lastIndexOf('/') + 1);
    file.playlist = parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri;
    const media = parseMediaPlaylist(await (await fetch(base + file.playlist)).text());
    const dir = path.posix.dirname(file.playlist);
    expect(media.segments.length).toBeGreaterThanOrEqual(2);
    file.init = `${dir}/${media.mapUri!}`;
    file.segment = `${dir}/${media.segments[0]!.uri}`;
    file.shortSegment = `${dir}/${media.segments[1]!.uri}`;

    key = playbackKey(server.secret);
    const target = new URL(server.url);
    origins.push(await startOrigin(target, originLog), await startOrigin(target, originLog));
    edge = await startEdge(nginx!, key, origins, work);
  }, 120_000);

  afterAll(async () => {
    await edge?.stop();
    await Promise.all(origins.map((o) => o.close()));
    await server?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  /** A playback path of the test asset's revision, signed with the edge key. */
  const signed = (rel: string, expiresAt = expires) =>
    signedPath('a', assetId, `${revision}/${rel}`, expiresAt, key);
  /** What reached the origins for this path (any token), with the query as they received it. */
  const reached = (rel: string) =>
    originLog.filter((url) => url.split('?')[0]!.endsWith(`/a/${assetId}/${revision}/${rel}`));
  /** nginx counts whole seconds: a copy with max-age=1 is fresh for 1 to 2 s. */
  const expiry = () => new Promise((r) => setTimeout(r, 2100));
  const forget = () => {
    originLog.length = 0;
    for (const o of origins) o.requests.length = 0;
  };

  async function viaEdge(target: string) {
    const response = await fetch(`http://127.0.0.1:${edge.port}${target}`);
    return {
      status: response.status,
      cache: response.headers.get('x-cache'),
      cors: response.headers.get('access-control-allow-origin'),
      cacheControl: response.headers.get('cache-control'),
      body: Buffer.from(await response.arrayBuffer()),
    };
  }

  it('caches a playlist and a segment: MISS, then HIT, the origin asked once', async () => {
    for (const rel of [file.playlist, file.segment]) {
      const first = await viaEdge(signed(rel));
      expect([first.status, first.cache], `${rel}: ${edge.stderr()}`).toEqual([200, 'MISS']);
      const second = await viaEdge(signed(rel));
      expect([second.status, second.cache], rel).toEqual([200, 'HIT']);
      expect(second.body.equals(first.body), rel).toBe(true);
      expect(second.cacheControl, rel).toBe('public, max-age=31536000, immutable');
      expect(second.cors, rel).toBe('*');
      expect(reached(rel), rel).toHaveLength(1);
    }
  });

  it('keys the cache without the token: another valid token, or a query on a segment, is a HIT', async () => {
    forget();
    const other = await viaEdge(signed(file.segment, expires + 600));
    expect([other.status, other.cache]).toEqual([200, 'HIT']);
    const withQuery = await viaEdge(`${signed(file.segment, expires + 1200)}?viewer=42&_HLS_msn=3`);
    expect([withQuery.status, withQuery.cache]).toEqual([200, 'HIT']);
    expect(reached(file.segment)).toEqual([]);
  });

  it('refuses a forged or an expired token itself (403 with CORS), never asking the origin', async () => {
    forget();
    const good = signed(file.segment);
    const hash = good.split('/')[2]!;
    const forged = good.replace(`/${hash}/`, `/${hash[0] === 'B' ? 'C' : 'B'}${hash.slice(1)}/`);
    const expired = signed(file.segment, Math.floor(Date.now() / 1000) - 60);
    for (const target of [forged, expired, signed('never-fetched.m3u8').replace(`/${revision}/`, '/')]) {
      const answer = await viaEdge(target);
      expect([answer.status, answer.cache, answer.cors], target).toEqual([403, null, '*']);
    }
    expect(originLog).toEqual([]);
  });

  it('passes LL-HLS playlist directives to the origin, keys on them, and coalesces identical ones', async () => {
    forget();
    const playlist = signed(file.playlist);
    const blocking = await viaEdge(`${playlist}?_HLS_msn=5&_HLS_part=1`);
    expect([blocking.status, blocking.cache]).toEqual([200, 'MISS']);
    expect(reached(file.playlist)).toEqual([`${playlist}?_HLS_msn=5&_HLS_part=1`]);
    // Same directives in another order, with noise: the same entry.
    const reordered = await viaEdge(`${signed(file.playlist, expires + 60)}?_HLS_part=1&x=y&_HLS_msn=5`);
    expect([reordered.status, reordered.cache]).toEqual([200, 'HIT']);
    // A delta request is its own entry, sent in canonical form; a malformed directive is no key.
    forget();
    expect((await viaEdge(`${playlist}?_HLS_skip=YES&utm=1`)).cache).toBe('MISS');
    expect((await viaEdge(`${playlist}?_HLS_skip=YES&_HLS_msn=6`)).cache).toBe('MISS');
    expect((await viaEdge(`${playlist}?_HLS_msn=06&_HLS_part=x`)).cache).toBe('HIT');
    expect(reached(file.playlist)).toEqual([
      `${playlist}?_HLS_skip=YES`,
      `${playlist}?_HLS_msn=6&_HLS_skip=YES`,
    ]);
    // The plain playlist is still its own entry (cached by the first test).
    expect((await viaEdge(playlist)).cache).toBe('HIT');

    // Viewers asking for the same next part at once: one origin request, the others wait for it.
    forget();
    for (const o of origins) o.hold = '_HLS_msn=7';
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        viaEdge(`${signed(file.playlist, expires + i)}?_HLS_msn=7&_HLS_part=0`),
      ),
    );
    for (const o of origins) o.hold = undefined;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.cache).sort()).toEqual(['HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
    expect(reached(file.playlist)).toEqual([`${playlist}?_HLS_msn=7&_HLS_part=0`]);
  });

  it("honours the origin's short Cache-Control (a live playlist's max-age=1)", async () => {
    forget();
    const target = signed(file.shortSegment);
    for (const o of origins) o.shortLived.add(target);
    const first = await viaEdge(target);
    expect([first.status, first.cache, first.cacheControl]).toEqual([200, 'MISS', 'public, max-age=1']);
    expect((await viaEdge(target)).cache).toBe('HIT');
    await expiry();
    // Expired: served at once while one request revalidates it with the origin (a 304).
    const expired = await viaEdge(target);
    expect([expired.status, expired.cache]).toEqual([200, 'STALE']);
    await until(
      'the edge to revalidate the expired copy',
      () => reached(file.shortSegment).length >= 2,
      5000,
    );
    expect(reached(file.shortSegment)).toEqual([target, target]);
    expect((await viaEdge(target)).cache).toBe('HIT');
  });

  it('keeps no copy of a live playlist longer than half a second (nginx counts whole seconds)', async () => {
    forget();
    const live = signedPath('a', assetId, 'live/720p/index.m3u8', expires, key);
    // Just after a half-second boundary, so two requests 100 ms apart share one.
    await new Promise((r) => setTimeout(r, 520 - (Date.now() % 500)));
    const first = await viaEdge(live);
    const again = await viaEdge(live);
    expect([first.cache, again.cache]).toEqual(['MISS', 'HIT']);
    expect(again.body.equals(first.body)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const later = await viaEdge(live);
    // A max-age=1 copy would still be fresh here; the next half second is a new entry.
    expect(later.cache).toBe('MISS');
    expect(later.body.equals(first.body)).toBe(false);
    // LL-HLS requests name the version they want: one entry, whenever asked.
    const blocking = `${live}?_HLS_msn=3`;
    expect((await viaEdge(blocking)).cache).toBe('MISS');
    await new Promise((r) => setTimeout(r, 600));
    expect((await viaEdge(blocking)).cache).toBe('HIT');
  });

  it('an LL-HLS blocking request is answered through the edge when the part appears', async () => {
    // A live event's recording as the live job leaves it (growing, its preview the `live` revision),
    // and its playlists and parts published to the server's Redis as the job publishes them.
    const db = serverDatabase(server);
    const redis = new Redis(server.redisUrl, { maxRetriesPerRequest: 1 });
    for (const o of origins) o.fakeLive = false;
    try {
      const liveId = `as_edgell${Date.now()}`;
      const account = await createAccount(db, 'edge-ll');
      await insertAsset(db, {
        id: liveId,
        accountId: account.id,
        title: 'edge-ll',
        sourceKey: `sources/${liveId}/source`,
        sourceBytes: 1,
        sourceName: undefined,
      });
      await updateAsset(db, liveId, { status: 'processing', preview_revision: LIVE_REVISION });
      const part = (msn: number, i: number): PartialSegment => ({
        uri: `p0001/part_${String(msn).padStart(5, '0')}_${i}.m4s`,
        duration: 1 / 3,
        independent: i === 0,
      });
      /** Segments 5 to 7, three parts each, then `pending` parts of segment 8. */
      const playlist = (pending: number) =>
        writeMediaPlaylist({
          targetDuration: 1,
          mediaSequence: 5,
          mapUri: 'p0001/init.mp4',
          segments: [5, 6, 7].map((msn) => ({
            uri: `p0001/seg_${msn}.m4s`,
            duration: 1,
            parts: [0, 1, 2].map((i) => part(msn, i)),
          })),
          ended: false,
          lowLatency: {
            partTarget: 1 / 3,
            partHoldBack: 1,
            pendingParts: Array.from({ length: pending }, (_, i) => part(8, i)),
            preloadHint: part(8, pending).uri,
            renditionReports: [],
          },
        });
      const rel = '720p/index.m3u8';
      await publishLivePlaylist(redis, liveId, rel, playlist(1));
      const livePath = (file: string, expiresAt = expires) =>
        signedPath('a', liveId, `${LIVE_REVISION}/${file}`, expiresAt, key);
      const reachedLive = () => originLog.filter((url) => url.includes(`/a/${liveId}/`));
      forget();

      // Two viewers ask for the next part's playlist at once (other tokens, directives in another
      // order, noise): the edge sends one canonical request, which the origin holds.
      const timed = async (target: string) => {
        const answer = await viaEdge(target);
        return { ...answer, at: performance.now() };
      };
      const answers = Promise.all([
        timed(`${livePath(rel)}?_HLS_part=1&_HLS_msn=8&utm=x`),
        timed(`${livePath(rel, expires + 60)}?_HLS_msn=8&_HLS_part=1`),
      ]);
      await new Promise((r) => setTimeout(r, 400));
      expect(reachedLive()).toEqual([`${livePath(rel)}?_HLS_msn=8&_HLS_part=1`]);
      const published = performance.now();
      await publishLivePlaylist(redis, liveId, rel, playlist(2));
      const [first, second] = await answers;
      const delays = [first, second].map((a) => Math.round(a.at - published)).sort((a, b) => a - b);
      console.info('LL-HLS blocking reload through the edge, publish to answer (ms):', delays);
      for (const answer of [first, second]) {
        expect(answer.status).toBe(200);
        expect(answer.body.toString()).toBe(playlist(2));
        expect(answer.cacheControl).toBe('public, max-age=6');
      }
      expect([first.cache, second.cache].sort()).toEqual(['HIT', 'MISS']);
      // The viewer whose request went through at once; the other one waited on nginx's cache lock,
      // which it checks every 500 ms.
      expect(delays[0]).toBeLessThan(500);
      expect(delays[1]).toBeLessThan(1000);
      expect(reachedLive()).toHaveLength(1);
      // Later viewers of that version: from the edge.
      expect((await viaEdge(`${livePath(rel)}?_HLS_msn=8&_HLS_part=1`)).cache).toBe('HIT');

      // The part the preload hint names, asked for before it exists: held, then served and cached.
      const partRel = `720p/${part(8, 2).uri}`;
      const bytes = Buffer.from('the third part of segment 8');
      const hinted = timed(livePath(partRel));
      await new Promise((r) => setTimeout(r, 300));
      const partPublished = performance.now();
      await publishLivePart(redis, liveId, partRel, bytes);
      const got = await hinted;
      console.info(
        'LL-HLS hinted part through the edge, publish to answer (ms):',
        Math.round(got.at - partPublished),
      );
      expect([got.status, got.cache, got.cacheControl]).toEqual([
        200,
        'MISS',
        'public, max-age=31536000, immutable',
      ]);
      expect(got.body.equals(bytes)).toBe(true);
      expect(got.at - partPublished).toBeLessThan(500);
      expect((await viaEdge(livePath(partRel, expires + 60))).cache).toBe('HIT');
    } finally {
      for (const o of origins) o.fakeLive = true;
      redis.disconnect();
      await db.destroy();
    }
  });

  it('goes on with one origin gone', async () => {
    await origins[0]!.close();
    forget();
    for (const rel of [file.master, file.init]) {
      const answer = await viaEdge(signed(rel));
      expect([answer.status, answer.cache], `${rel}: ${edge.stderr()}`).toEqual([200, 'MISS']);
    }
    expect(origins[1]!.requests.filter((url) => !url.endsWith(file.shortSegment))).toHaveLength(2);
  });

  it('serves cached copies, stale ones too, while the origins answer 502 or are gone', async () => {
    await expiry();
    const origin = origins[1]!;
    origin.mode = '502';
    const served = await viaEdge(signed(file.shortSegment, expires + 60));
    expect([served.status, served.cache]).toEqual([200, 'STALE']);
    expect((await viaEdge(signed(file.segment))).cache).toBe('HIT');
    // Still expired (a failed refresh keeps the old copy): served as is, or while a refresh runs.
    await origin.close();
    const stale = await viaEdge(signed(file.shortSegment));
    expect(stale.status).toBe(200);
    expect(['STALE', 'UPDATING']).toContain(stale.cache);
    expect(stale.body.equals(served.body)).toBe(true);
    expect((await viaEdge(signed(file.playlist))).cache).toBe('HIT');
    // What was never cached cannot be served.
    expect((await viaEdge(`${signed(file.playlist)}?_HLS_msn=9`)).status).toBe(502);
  });

  it('writes a tab-separated access log: status, cache status, bytes, time, method, path', async () => {
    const lines = await until(
      'the access log to be flushed',
      () => {
        const text = fs.existsSync(edge.accessLog) ? fs.readFileSync(edge.accessLog, 'utf8') : '';
        const rows = text
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t'));
        return rows.some((r) => r[2] === 'STALE') ? rows : undefined;
      },
      5000,
    );
    for (const row of lines) expect(row).toHaveLength(9);
    const counts: Record<string, number> = {};
    for (const [, , cache] of lines) counts[cache!] = (counts[cache!] ?? 0) + 1;
    expect(counts.HIT).toBeGreaterThan(0);
    expect(counts.MISS).toBeGreaterThan(0);
    expect(counts['-']).toBe(3);
    const hit = lines.find((r) => r[2] === 'HIT' && r[6]!.endsWith(file.segment))!;
    expect(hit[1]).toBe('200');
    expect(Number(hit[3])).toBeGreaterThan(0);
    expect(hit[5]).toBe('GET');
    expect(lines.filter((r) => r[1] === '403').every((r) => r[2] === '-')).toBe(true);
  });
});
