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
import { readLivePlaylist } from '../live/live-playlists.ts';
import { revisionPrefix } from '../media/layout.ts';
import { LIVE_REVISION } from '../media/live-output.ts';
import type { Storage } from '../storage/storage.ts';
import { ByteLru, SingleFlight } from './object-cache.ts';
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
  now?: () => number;
}

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

/** A strong validator for a text with no storage metadata (a live playlist from Redis). */
function textEtag(text: string): string {
  return `"${crypto.createHash('sha1').update(text).digest('base64url').slice(0, 22)}"`;
}

/**
 * The HLS origin, outside Express on purpose: it is the path that takes every viewer's every
 * request, so it parses the URL itself, checks the signed prefix (403 otherwise), resolves the
 * scope to an asset revision (cached 1 s), and answers from a memory LRU of hot objects with
 * ETag/304, Range/206, HEAD and CORS. URL: `/s/<hash>/<expires>/<e|a>/<id>/<revision>/<file>`.
 * Every byte comes from `Storage` (local disk or S3), and a live event's playlists from Redis, so
 * any number of origins can serve the same events without a shared disk.
 */
export function createOriginHandler(opts: OriginOptions) {
  const now = opts.now ?? (() => Date.now());
  const scopes = new Map<string, { at: number; value: Resolved | 'expired' | 'missing' }>();
  const cache = new ByteLru<ObjectCopy>(opts.cacheBytes);
  const loading = new SingleFlight<ObjectCopy | undefined>();
  /** Live playlists from Redis, by `<assetId>/<file>`: a few per live event, each kept REVALIDATE_MS. */
  const live = new Map<string, { at: number; copy: ObjectCopy | undefined }>();
  const loadingLive = new SingleFlight<ObjectCopy | undefined>();
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
    if (fresh) return cached;
    return loading.run(key, () => fetchObject(key, cached, volatile));
  }

  async function fetchObject(
    key: string,
    cached: ObjectCopy | undefined,
    volatile: boolean,
  ): Promise<ObjectCopy | undefined> {
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

  /** A live playlist as the live job last published it to Redis; undefined when Redis has none. */
  async function loadLive(redis: Redis, assetId: string, rel: string): Promise<ObjectCopy | undefined> {
    const key = `${assetId}/${rel}`;
    const cached = live.get(key);
    if (cached && now() - cached.at < REVALIDATE_MS) return cached.copy;
    return loadingLive.run(key, async () => {
      const text = await readLivePlaylist(redis, assetId, rel);
      const body = text === undefined ? undefined : Buffer.from(text);
      const copy: ObjectCopy | undefined = body && {
        body,
        size: body.length,
        etag: textEtag(text!),
        lastModified: undefined,
        volatile: true,
        checkedAt: now(),
      };
      live.delete(key);
      if (live.size >= MAX_LIVE_PLAYLISTS) live.delete(live.keys().next().value!);
      live.set(key, { at: now(), copy });
      return copy;
    });
  }

  function end(res: ServerResponse, status: number, text?: string): void {
    res.writeHead(status, {
      ...CORS,
      'Cache-Control': 'no-store',
      ...(text ? { 'Content-Type': 'text/plain' } : {}),
    });
    res.end(text);
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
    // While live, the live job publishes its playlists to Redis first; storage is the fallback (Redis
    // reconnecting: no waiting in ioredis's offline queue with a viewer on the line).
    const redis =
      volatile && revision === LIVE_REVISION && opts.redis?.status === 'ready' ? opts.redis : undefined;
    const file = (redis && (await loadLive(redis, resolved.asset.id, rel))) ?? (await load(key, volatile));
    if (!file) return end(res, 404);

    const headers: Record<string, string | number> = {
      ...CORS,
      'Content-Type': type,
      'Cache-Control': volatile ? 'public, max-age=1' : IMMUTABLE,
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

  return (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) end(res, 500);
      else res.destroy();
    });
  };
}
