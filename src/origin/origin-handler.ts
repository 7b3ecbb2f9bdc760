import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Redis } from 'ioredis';
import { findAsset, type AssetRow } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { TimedMarker } from '../../pipelines/simulive.ts';
import { markersOf } from '../automated/interactions.ts';
import type { Schedule } from '../automated/schedule.ts';
import { parseSessionScopeId, sessionView } from '../automated/sessions.ts';
import { findEventByWebinarId, interactionsOf, scheduleOf } from '../db/events.ts';
import {
  blockingVerdict,
  parseBlockingRequest,
  playlistEdge,
  type BlockingRequest,
  type PlaylistEdge,
} from '../../pipelines/ll-hls-blocking.ts';
import { PART_FILE, readLivePart, readLivePlaylist, watchLiveChanges } from '../live/live-playlists.ts';
import { revisionPrefix } from '../media/layout.ts';
import { LIVE_REVISION } from '../media/live-output.ts';
import type { Metrics, OriginKind } from '../services/metrics.ts';
import type { Storage } from '../storage/storage.ts';
import { ByteLru, SingleFlight } from './object-cache.ts';
import { HeldRequests, NoticedFlight, type HeldRequest } from './held-requests.ts';
import { SessionPlaylists, type AiringSession } from './session-playlists.ts';
import { checkToken, parseSignedPath, type TokenScope } from './tokens.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.vtt': 'text/vtt; charset=utf-8',
};
/** Body bytes of each answer, for the bytes counter (headers given to writeHead are not readable back). */
const sentBytes = new WeakMap<ServerResponse, number>();
const IMMUTABLE = 'public, max-age=31536000, immutable';
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, ETag',
  'Timing-Allow-Origin': '*',
};
/** A session without a replay stays playable this long after its end (players finishing up). */
const SESSION_GRACE_MS = 10 * 60_000;
/** Objects above this are streamed from storage instead of kept (recordings' segments are far smaller). */
const MAX_CACHED_OBJECT = 8 * 1024 * 1024;
/** A growing revision's playlists are checked against storage (or Redis) at most this often. */
const REVALIDATE_MS = 200;
/** Counted for each kept object besides its bytes, so that metadata-only entries are bounded too. */
const ENTRY_OVERHEAD_BYTES = 512;
/** Live playlists kept from Redis: master and renditions of every event live at once. */
const MAX_LIVE_PLAYLISTS = 1000;
/**
 * An LL-HLS part asked for before it is published (a player following the preload hint) is held
 * this long, about three part targets, then answered 404 (not cached: it may still come).
 */
const PART_WAIT_MS = 3000;
/** Requests held at once by one origin process (blocking playlist reloads and awaited parts). */
const MAX_HELD_REQUESTS = 20_000;
/** A blocking reload is held up to three target durations (RFC 8216bis 6.2.5.2); this one if none is given. */
const DEFAULT_TARGET_DURATION_SECONDS = 6;
/** A blocking reload's URL names the playlist version it wants: any copy of it stays right. */
const BLOCKING_CACHE = 'public, max-age=6';
/** How long a request waits for the change subscription to start before Redis counts as unavailable. */
const WATCH_START_MS = 1000;

export interface OriginOptions {
  db: Db;
  storage: Storage;
  /**
   * Where live events' playlists are published (`src/live/live-playlists.ts`). Without it, or
   * while it is not connected, they are read from storage, where the live job also publishes them.
   */
  redis?: Redis | undefined;
  secret: string;
  /** Memory for hot objects (segments, init, playlists, images). */
  cacheBytes: number;
  /** Requests, bytes, latency and cache lookups are counted here when given. */
  metrics?: Metrics | undefined;
  /** Requests held at once (blocking playlist reloads, parts not published yet); beyond, 503. */
  maxHeldRequests?: number | undefined;
  now?: () => number;
}

/** The origin's request handler, with what its owner needs besides. */
export interface OriginHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Requests held right now, waiting for a live playlist or part to change. */
  held(): number;
  /** Ends the change subscription; requests still held are answered 503. */
  close(): Promise<void>;
}

const KINDS: Record<string, OriginKind> = {
  '.m3u8': 'playlist',
  '.m4s': 'segment',
  '.mp4': 'init',
  '.jpg': 'image',
  '.webp': 'image',
  '.vtt': 'image',
};

interface Resolved {
  /** Set for a session of an automated webinar (scope id `<webinarId>.<start>`). */
  session?: AiringSession;
  asset: AssetRow;
  /** The revision still being encoded, or live: its playlists change. */
  growing: boolean;
  /** The revision's storage prefix (`assets/<id>/<revision>`). */
  prefix: string;
}

/** An object as served: its bytes when small enough to keep, and what its headers need. */
interface ObjectCopy {
  /** The bytes, or undefined for an object too large to keep (streamed from storage per request). */
  readonly body: Buffer | undefined;
  readonly size: number;
  readonly etag: string;
  /** HTTP date; none for a live playlist from Redis (it has no modification time). */
  readonly lastModified: string | undefined;
  /** A playlist of a growing revision: it may change, so it is checked again after REVALIDATE_MS. */
  volatile: boolean;
  checkedAt: number;
}

function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return header.includes(',') ? undefined : 'invalid';
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start > end || start >= size ? 'invalid' : { start, end };
}

/** Waits until a storage stream has bytes (or its end), so a failure to open it can still be a 500. */
function opened(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const ready = () => {
      stream.off('error', failed);
      resolve();
    };
    const failed = (err: Error) => {
      stream.off('readable', ready);
      reject(err);
    };
    stream.once('readable', ready);
    stream.once('error', failed);
  });
}

/** A strong validator for bytes with no storage metadata (a live playlist or part from Redis). */
function contentEtag(content: string | Buffer): string {
  return `"${crypto.createHash('sha1').update(content).digest('base64url').slice(0, 22)}"`;
}

const INVALID_BLOCKING_REQUEST =
  '_HLS_msn and _HLS_part take a whole number without sign or leading zero, and _HLS_part comes only with _HLS_msn';

/** The blocking reload directives of a request's query (RFC 8216bis 6.2.5.2). */
function blockingRequestOf(url: string | undefined): BlockingRequest {
  const q = url?.indexOf('?') ?? -1;
  return q < 0 ? 'none' : parseBlockingRequest(new URLSearchParams(url!.slice(q + 1)));
}

/** What a blocking reload is judged by, read once per copy of a playlist. */
interface PlaylistFacts {
  readonly edge: PlaylistEdge;
  /** Three target durations (RFC 8216bis 6.2.5.2): how long a request for what comes next is held. */
  readonly holdMs: number;
}

function playlistFacts(text: string): PlaylistFacts {
  const target = /^#EXT-X-TARGETDURATION:(\d{1,4})\s*$/m.exec(text);
  const seconds = (target && Number(target[1])) || DEFAULT_TARGET_DURATION_SECONDS;
  return { edge: playlistEdge(text), holdMs: 3 * seconds * 1000 };
}

/**
 * The HLS origin, outside Express on purpose: it is the path that takes every viewer's every
 * request, so it parses the URL itself, checks the signed prefix (403 otherwise), resolves the
 * scope to an asset revision (cached 1 s), and answers from a memory LRU of hot objects with
 * ETag/304, Range/206, HEAD and CORS. URL: `/s/<hash>/<expires>/<e|a>/<id>/<revision>/<file>`.
 * Every byte comes from `Storage` (local disk or S3), and a live event's playlists from Redis, so
 * any number of origins can serve the same events without a shared disk.
 */
export function createOriginHandler(opts: OriginOptions): OriginHandler {
  const now = opts.now ?? (() => Date.now());
  const scopes = new Map<string, { at: number; value: Resolved | 'expired' | 'missing' }>();
  const cache = new ByteLru<ObjectCopy>(opts.cacheBytes);
  const loading = new SingleFlight<ObjectCopy | undefined>();
  /**
   * Live playlists from Redis, by `<assetId>/<file>`: a few per live event, each kept REVALIDATE_MS,
   * or until a change notice for it (once the origin watches them: see `watch`).
   */
  const live = new Map<string, { at: number; copy: ObjectCopy | undefined }>();
  /** Reads of live playlists and parts from Redis in flight, by `<assetId>/<file>`. */
  const loadingLive = new NoticedFlight<ObjectCopy | undefined>();
  /** Blocking-reload facts of live playlist copies, computed once per copy. */
  const facts = new WeakMap<ObjectCopy, PlaylistFacts>();
  const heldRequests = new HeldRequests(opts.maxHeldRequests ?? MAX_HELD_REQUESTS);
  /** The change subscription: started by the first request that has to wait (then kept). */
  let watching: Promise<boolean> | undefined;
  let unwatch: (() => Promise<void>) | undefined;
  let closed = false;
  const sessions = new SessionPlaylists(opts.storage);

  /** What every session of one automated webinar shares, looked up once a second (not per session). */
  const airings = new Map<string, { at: number; value: Airing | 'missing' }>();
  interface Airing {
    asset: AssetRow;
    schedule: Schedule;
    markers: TimedMarker[];
  }

  async function airing(webinarId: string, revision: string): Promise<Airing | 'missing'> {
    const key = `${webinarId}/${revision}`;
    const hit = airings.get(key);
    if (hit && now() - hit.at < 1000) return hit.value;
    const event = await findEventByWebinarId(opts.db, webinarId);
    const schedule = event?.type === 'automated' ? scheduleOf(event) : undefined;
    const asset = event?.asset_id && schedule ? await findAsset(opts.db, event.asset_id) : undefined;
    const value: Airing | 'missing' =
      event && schedule && asset?.duration_seconds && asset.status === 'ready' && asset.revision === revision
        ? { asset, schedule, markers: markersOf(interactionsOf(event)) }
        : 'missing';
    if (airings.size > 10_000) airings.clear();
    airings.set(key, { at: now(), value });
    return value;
  }

  async function resolve(
    scope: TokenScope,
    id: string,
    revision: string,
  ): Promise<Resolved | 'expired' | 'missing'> {
    const sessionId = scope === 'e' ? parseSessionScopeId(id) : undefined;
    if (sessionId) {
      const a = await airing(sessionId.webinarId, revision);
      if (a === 'missing') return a;
      const view = sessionView(a.schedule, sessionId.startMs, a.asset.duration_seconds!, now());
      return {
        asset: a.asset,
        growing: false,
        prefix: revisionPrefix(a.asset.id, revision),
        session: {
          startMs: sessionId.startMs,
          closesAtMs: view.replayUntilMs ?? view.endMs + SESSION_GRACE_MS,
          markers: a.markers,
        },
      };
    }
    const key = `${scope}/${id}/${revision}`;
    const hit = scopes.get(key);
    if (hit && now() - hit.at < 1000) return hit.value;
    let asset: AssetRow | undefined;
    let expired = false;
    if (scope === 'e') {
      const event = await findEventByWebinarId(opts.db, id);
      expired = Boolean(event?.replay_expires_at && Date.parse(event.replay_expires_at) < now());
      asset = event?.asset_id ? await findAsset(opts.db, event.asset_id) : undefined;
    } else {
      asset = await findAsset(opts.db, id);
    }
    const published = asset?.status === 'ready' && asset.revision === revision;
    const growing = asset?.status !== 'ready' && asset?.preview_revision === revision;
    const value = expired
      ? 'expired'
      : asset && (published || growing)
        ? { asset, growing, prefix: revisionPrefix(asset.id, revision) }
        : 'missing';
    if (scopes.size > 10_000) scopes.clear();
    scopes.set(key, { at: now(), value });
    return value;
  }

  /**
   * An object of storage, from memory when possible. Segments, init segments and images never change
   * once stored, nor does anything of a published revision: kept without revalidation. A growing
   * revision's playlists (`volatile`) are checked by etag at most every REVALIDATE_MS, and a copy
   * read while growing is checked once more when the revision is published (its final playlists
   * replace the growing ones). Concurrent misses share one storage read.
   */
  async function load(key: string, volatile: boolean): Promise<ObjectCopy | undefined> {
    const cached = cache.get(key);
    const fresh =
      cached !== undefined &&
      ((!cached.volatile && !volatile) ||
        (cached.volatile === volatile && now() - cached.checkedAt < REVALIDATE_MS));
    opts.metrics?.originCache.inc({ result: fresh ? 'hit' : 'miss' });
    if (fresh) return cached;
    return loading.run(key, () => fetchObject(key, cached, volatile));
  }

  async function fetchObject(
    key: string,
    cached: ObjectCopy | undefined,
    volatile: boolean,
  ): Promise<ObjectCopy | undefined> {
    opts.metrics?.storageReads.inc({ op: 'stat' });
    const stat = await opts.storage.stat(key);
    if (!stat) {
      cache.delete(key);
      return undefined;
    }
    if (cached?.etag === stat.etag) {
      cached.checkedAt = now();
      cached.volatile = volatile;
      return cached;
    }
    if (stat.size <= MAX_CACHED_OBJECT) opts.metrics?.storageReads.inc({ op: 'read' });
    const body = stat.size <= MAX_CACHED_OBJECT ? await opts.storage.readBytes(key) : undefined;
    // Removed between the two calls (a revision being deleted): as if it had never been there.
    if (stat.size <= MAX_CACHED_OBJECT && !body) return undefined;
    const copy: ObjectCopy = {
      body,
      size: body?.length ?? stat.size,
      etag: stat.etag,
      lastModified: stat.modified.toUTCString(),
      volatile,
      checkedAt: now(),
    };
    cache.set(key, copy, (body?.length ?? 0) + ENTRY_OVERHEAD_BYTES);
    return copy;
  }

  /**
   * A live playlist as the live job last published it to Redis; undefined when Redis has none.
   * Concurrent reads share one Redis read, unless a change notice came while it ran: a request
   * woken by that notice must see the change, so it reads again (and the overtaken read is not kept).
   */
  async function loadLive(redis: Redis, assetId: string, rel: string): Promise<ObjectCopy | undefined> {
    const key = `${assetId}/${rel}`;
    const cached = live.get(key);
    if (cached && now() - cached.at < REVALIDATE_MS) return cached.copy;
    return loadingLive.run(key, async (fresh) => {
      const text = await readLivePlaylist(redis, assetId, rel);
      const body = text === undefined ? undefined : Buffer.from(text);
      const copy: ObjectCopy | undefined = body && {
        body,
        size: body.length,
        etag: contentEtag(body),
        lastModified: undefined,
        volatile: true,
        checkedAt: now(),
      };
      if (fresh()) {
        live.delete(key);
        if (live.size >= MAX_LIVE_PLAYLISTS) live.delete(live.keys().next().value!);
        live.set(key, { at: now(), copy });
      }
      return copy;
    });
  }

  /** A change notice: the live playlist or part `file` (`<assetId>/<file>`) was just published. */
  function changed(file: string): void {
    live.delete(file);
    loadingLive.changed(file);
    heldRequests.changed(file);
  }

  /**
   * Starts the one change subscription of this origin, once, when a request first has to wait for
   * a change; true once it runs. While it does, every notice also drops the playlist's copy kept
   * here (`changed`), so a woken request never reads a copy older than its notice. Not started
   * before that: nothing waits, and the 200 ms copies are all plain requests need.
   */
  function watch(redis: Redis): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    watching ??= watchLiveChanges(
      redis,
      (assetId, file) => changed(`${assetId}/${file}`),
      // Back after an outage: what changed meanwhile was not announced; everything may have.
      () => {
        live.clear();
        loadingLive.changedAll();
        heldRequests.changedAll();
      },
    ).then(
      (stop) => {
        if (closed) {
          void stop();
          return false;
        }
        unwatch = stop;
        // Copies read before the subscription may predate a change it will never announce.
        live.clear();
        loadingLive.changedAll();
        return true;
      },
      () => {
        // Redis refused or dropped the subscription: the next request that has to wait tries again.
        watching = undefined;
        return false;
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), WATCH_START_MS)),
    );
    return Promise.race([watching, late]).finally(() => clearTimeout(timer));
  }

  /** Facts of a live playlist copy for blocking reloads (a copy without bytes: none to wait for). */
  function factsOf(copy: ObjectCopy): PlaylistFacts {
    let known = facts.get(copy);
    if (!known) {
      known = copy.body
        ? playlistFacts(copy.body.toString('utf8'))
        : { edge: { lastMsn: 0, pendingParts: 0, ended: true }, holdMs: 0 };
      facts.set(copy, known);
    }
    return known;
  }

  /**
   * A blocking playlist reload (RFC 8216bis 6.2.5.2): the playlist once it holds segment `msn` (or
   * part `part` of it), held until a change notice brings it, at most three target durations (then
   * 503). 400 for a request more than two segments ahead. Undefined: answered here, or the client
   * went away while held.
   */
  async function blockingPlaylist(
    res: ServerResponse,
    redis: Redis | undefined,
    assetId: string,
    rel: string,
    key: string,
    want: { msn: number; part: number | undefined },
  ): Promise<ObjectCopy | undefined> {
    const read = async () => (redis && (await loadLive(redis, assetId, rel))) ?? (await load(key, true));
    let copy = await read();
    let held: HeldRequest | undefined;
    let deadline: number | undefined;
    try {
      for (;;) {
        if (!copy) return void end(res, 404);
        const { edge, holdMs } = factsOf(copy);
        const verdict = blockingVerdict(edge, want);
        if (verdict === 'ready') return copy;
        if (verdict === 'too-far') {
          const text = `_HLS_msn=${want.msn} is more than two segments after the last one listed (${edge.lastMsn})`;
          return void end(res, 400, text);
        }
        deadline ??= Date.now() + holdMs;
        if (!held) {
          // Without change notices there is nothing to wait with: try again in a moment.
          if (!redis || !(await watch(redis))) return void unavailable(res);
          held = heldRequests.hold(`${assetId}/${rel}`, res);
          if (!held) return void unavailable(res);
          // A change between the read above and now was not seen by this request: read again
          // (from memory, unless a notice dropped the copy).
          copy = await read();
          continue;
        }
        const wake = await held.next(deadline - Date.now());
        if (wake === 'gone') return undefined;
        if (wake === 'closed') return void unavailable(res);
        if (wake === 'timeout') return void end(res, 503, 'the playlist did not get there in time');
        copy = await read();
      }
    } finally {
      held?.release();
    }
  }

  /** An LL-HLS part as published to Redis (kept here once read: it never changes). */
  async function loadPart(redis: Redis, assetId: string, rel: string, key: string) {
    const cached = cache.get(key);
    opts.metrics?.originCache.inc({ result: cached ? 'hit' : 'miss' });
    if (cached) return cached;
    // A part found is the part for good; one not found is not remembered.
    return loadingLive.run(`${assetId}/${rel}`, async () => {
      const body = await readLivePart(redis, assetId, rel);
      if (!body) return undefined;
      const copy: ObjectCopy = {
        body,
        size: body.length,
        etag: contentEtag(body),
        lastModified: undefined,
        volatile: false,
        checkedAt: now(),
      };
      cache.set(key, copy, body.length + ENTRY_OVERHEAD_BYTES);
      return copy;
    });
  }

  /**
   * A part of a live event (never from storage: parts live only in Redis). One not published yet
   * (a player following the preload hint) is held until its change notice, at most PART_WAIT_MS,
   * then 404. Undefined: answered here, or the client went away while held.
   */
  async function livePart(
    res: ServerResponse,
    redis: Redis,
    assetId: string,
    rel: string,
    key: string,
  ): Promise<ObjectCopy | undefined> {
    const copy = await loadPart(redis, assetId, rel, key);
    if (copy) return copy;
    if (!(await watch(redis))) return void unavailable(res);
    const held = heldRequests.hold(`${assetId}/${rel}`, res);
    if (!held) return void unavailable(res);
    const deadline = Date.now() + PART_WAIT_MS;
    try {
      for (;;) {
        // Read again once held: the part may have come between the first read and the hold.
        const part = await loadPart(redis, assetId, rel, key);
        if (part) return part;
        const wake = await held.next(deadline - Date.now());
        if (wake === 'gone') return undefined;
        if (wake === 'timeout') return void end(res, 404);
        if (wake === 'closed') return void unavailable(res);
      }
    } finally {
      held.release();
    }
  }

  function end(res: ServerResponse, status: number, text?: string, headers?: Record<string, string>): void {
    res.writeHead(status, {
      ...CORS,
      'Cache-Control': 'no-store',
      ...(text ? { 'Content-Type': 'text/plain' } : {}),
      ...headers,
    });
    res.end(text);
  }

  /** Busy or cut off from Redis for a moment: the player (or the edge) asks again. */
  function unavailable(res: ServerResponse): void {
    end(res, 503, undefined, { 'Retry-After': '1' });
  }

  /**
   * A rendition file of an automated session: computed playlists, and segments only once their
   * time has come. Returns false to serve the file as is (init segments, images after the end).
   */
  async function answerSession(
    req: IncomingMessage,
    res: ServerResponse,
    session: AiringSession,
    prefix: string,
    parts: readonly string[],
    key: string,
    ext: string,
  ): Promise<boolean> {
    const at = now();
    if (ext === '.m3u8' && parts.length > 1) {
      const answer = await sessions.playlist(key, session, at);
      if (answer.status !== 200 || !answer.body) {
        end(res, answer.status, answer.text);
        return true;
      }
      const headers = {
        ...CORS,
        'Content-Type': CONTENT_TYPES['.m3u8']!,
        'Cache-Control': answer.cacheControl ?? 'no-store',
        ETag: answer.etag ?? '',
      };
      if (req.headers['if-none-match'] === answer.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      res.writeHead(200, { ...headers, 'Content-Length': answer.body.length });
      sentBytes.set(res, answer.body.length);
      res.end(req.method === 'HEAD' ? undefined : answer.body);
      return true;
    }
    if (ext === '.m4s') {
      const renditionKey = [prefix, ...parts.slice(0, -1)].join('/');
      const verdict = await sessions.segmentAllowed(renditionKey, parts.at(-1)!, session, at);
      if (verdict === 'ok') return false;
      end(res, verdict === 'unknown' ? 404 : 403, verdict === 'not_yet' ? 'not yet' : undefined);
      return true;
    }
    // The storyboard would show what is still to come.
    if (parts[0]!.startsWith('storyboard') || parts[0] === 'thumbs') {
      end(res, 404);
      return true;
    }
    return false;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...CORS,
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Modified-Since',
        'Access-Control-Max-Age': '86400',
      });
      return void res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(res, 405);
    // The same parser, with the same canonical patterns, as the nginx edge (see tokens.ts): the raw
    // path, undecoded, so `%2e%2e` or `%2f` stay literal and are refused, never resolved.
    const parsed = parseSignedPath((req.url ?? '').split('?')[0]!);
    if (parsed === 'unsigned') return end(res, 404);
    if (parsed === 'invalid-token') return end(res, 403, 'invalid token');
    if (parsed === 'bad-path') return end(res, 404);
    const { scope, id, revision, file: parts } = parsed;
    const check = checkToken(parsed.hash, parsed.expires, scope, id, opts.secret, Math.floor(now() / 1000));
    if (check !== 'ok') return end(res, 403, check === 'expired' ? 'token expired' : 'invalid token');
    const rel = parts.join('/');
    const ext = path.posix.extname(rel);
    const type = CONTENT_TYPES[ext];
    if (!type) return end(res, 404);
    const resolved = await resolve(scope, id, revision);
    if (resolved === 'expired') return end(res, 403, 'replay expired');
    if (resolved === 'missing') return end(res, 404);
    const key = `${resolved.prefix}/${rel}`;
    if (resolved.session) {
      const answered = await answerSession(req, res, resolved.session, resolved.prefix, parts, key, ext);
      if (answered) return;
    }
    // A growing playlist changes every segment; everything else at a revisioned URL never does.
    const volatile = resolved.growing && ext === '.m3u8';
    const isLive = resolved.growing && revision === LIVE_REVISION;
    // While live, the live job publishes its playlists to Redis first; storage is the fallback (Redis
    // reconnecting: no waiting in ioredis's offline queue with a viewer on the line).
    const redis = isLive && opts.redis?.status === 'ready' ? opts.redis : undefined;
    // Only a live media playlist blocks (RFC 8216bis 6.2.5.2); `_HLS_skip` is ignored (no CAN-SKIP-UNTIL).
    const blocking = isLive && ext === '.m3u8' && parts.length > 1 ? blockingRequestOf(req.url) : 'none';
    if (blocking === 'invalid') return end(res, 400, INVALID_BLOCKING_REQUEST);
    let file: ObjectCopy | undefined;
    if (isLive && ext === '.m4s' && PART_FILE.test(parts.at(-1)!)) {
      // LL-HLS parts are only ever in Redis.
      if (!redis) return unavailable(res);
      file = await livePart(res, redis, resolved.asset.id, rel, key);
    } else if (blocking !== 'none') {
      file = await blockingPlaylist(res, redis, resolved.asset.id, rel, key, blocking);
    } else {
      const fromRedis = redis && volatile ? await loadLive(redis, resolved.asset.id, rel) : undefined;
      file = fromRedis ?? (await load(key, volatile));
      if (!file) return end(res, 404);
    }
    // Answered already (refused, missing, timed out), or the client went away while held.
    if (!file) return;
    const cacheControl = blocking !== 'none' ? BLOCKING_CACHE : volatile ? 'public, max-age=1' : IMMUTABLE;

    const headers: Record<string, string | number> = {
      ...CORS,
      'Content-Type': type,
      'Cache-Control': cacheControl,
      ETag: file.etag,
      ...(file.lastModified ? { 'Last-Modified': file.lastModified } : {}),
      'Accept-Ranges': 'bytes',
    };
    const inm = req.headers['if-none-match'];
    // Split without a backtracking regex: a header of blanks must not cost more than its length.
    if (
      inm &&
      inm.length <= 1024 &&
      inm.split(',').some((t) => {
        const tag = t.trim();
        return tag === file.etag || tag === `W/${file.etag}`;
      })
    ) {
      res.writeHead(304, headers);
      return void res.end();
    }
    const size = file.size;
    const rangeHeader = req.headers.range;
    const range = rangeHeader ? parseRange(rangeHeader, size) : undefined;
    if (range === 'invalid') {
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
      return void res.end();
    }
    const start = range?.start ?? 0;
    const last = range?.end ?? size - 1;
    const status = range ? 206 : 200;
    Object.assign(headers, {
      'Content-Length': last - start + 1,
      ...(range ? { 'Content-Range': `bytes ${start}-${last}/${size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      return void res.end();
    }
    sentBytes.set(res, last - start + 1);
    if (file.body) {
      res.writeHead(status, headers);
      return void res.end(range ? file.body.subarray(start, last + 1) : file.body);
    }
    const stream = opts.storage.read(key, { start, end: last });
    // Not found or unreachable before the first byte: still a clean 500, not a cut 200.
    await opened(stream);
    res.writeHead(status, headers);
    await pipeline(stream, res);
  }

  /** Counts the request once its answer is sent (or cut). */
  function measure(req: IncomingMessage, res: ServerResponse, metrics: Metrics): void {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const [pathname, query] = (req.url ?? '').split('?');
      const ext = path.posix.extname(pathname!);
      const kind = ext === '.m3u8' && query?.includes('_HLS_msn=') ? 'blocking' : (KINDS[ext] ?? 'other');
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.originRequests.inc({ kind, status: String(res.statusCode) });
      metrics.originSeconds.observe({ kind }, seconds);
      const length = sentBytes.get(res);
      if (req.method === 'GET' && res.writableFinished && length) metrics.originBytes.inc({ kind }, length);
    });
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (opts.metrics) measure(req, res, opts.metrics);
    handle(req, res).catch(() => {
      if (!res.headersSent) end(res, 500);
      else res.destroy();
    });
  };
  return Object.assign(handler, {
    held: () => heldRequests.count,
    async close() {
      closed = true;
      heldRequests.closeAll();
      await unwatch?.();
      unwatch = undefined;
    },
  });
}
