import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { findAsset, type AssetRow } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { TimedMarker } from '../../pipelines/simulive.ts';
import { markersOf } from '../automated/interactions.ts';
import type { Schedule } from '../automated/schedule.ts';
import { parseSessionScopeId, sessionView } from '../automated/sessions.ts';
import { findEventByWebinarId, interactionsOf, scheduleOf } from '../db/events.ts';
import { SessionPlaylists, type AiringSession } from './session-playlists.ts';
import { revisionPrefix } from '../media/layout.ts';
import type { Storage } from '../storage/storage.ts';
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
/** Files above this are streamed from disk instead of cached (recordings' segments are far smaller). */
const MAX_CACHED_FILE = 8 * 1024 * 1024;

export interface OriginOptions {
  db: Db;
  storage: Storage;
  secret: string;
  /** Memory for hot files (segments, init, playlists, images). */
  cacheBytes: number;
  now?: () => number;
}

interface Resolved {
  /** Set for a session of an automated webinar (scope id `<webinarId>.<start>`). */
  session?: AiringSession;
  asset: AssetRow;
  /** The revision still being encoded: its playlists change. */
  growing: boolean;
  /** Its folder on disk, or undefined on remote storage. */
  root: string | undefined;
}

interface CachedFile {
  /** The bytes, or undefined for a file too large to cache (streamed from disk). */
  body: Buffer | undefined;
  size: number;
  etag: string;
  lastModified: string;
  mtimeMs: number;
  checkedAt: number;
  /** Read while its revision was growing: it must be re-read once the revision is published. */
  growing: boolean;
}

/** A byte-bounded LRU (Map keeps insertion order; a hit re-inserts). */
class FileCache {
  readonly #files = new Map<string, CachedFile>();
  #bytes = 0;
  constructor(private readonly limit: number) {}

  get(key: string): CachedFile | undefined {
    const hit = this.#files.get(key);
    if (hit) {
      this.#files.delete(key);
      this.#files.set(key, hit);
    }
    return hit;
  }

  set(key: string, file: CachedFile): void {
    const old = this.#files.get(key);
    if (old) this.#bytes -= old.size;
    this.#files.delete(key);
    this.#files.set(key, file);
    this.#bytes += file.size;
    for (const [k, v] of this.#files) {
      if (this.#bytes <= this.limit) break;
      this.#files.delete(k);
      this.#bytes -= v.size;
    }
  }
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

/**
 * The HLS origin, outside Express on purpose: it is the path that takes every viewer's every
 * request, so it parses the URL itself, checks the signed prefix (403 otherwise), resolves the
 * scope to an asset revision (cached 1 s), and answers from a memory LRU of hot files with
 * ETag/304, Range/206, HEAD and CORS. URL: `/s/<hash>/<expires>/<e|a>/<id>/<revision>/<file>`.
 */
export function createOriginHandler(opts: OriginOptions) {
  const now = opts.now ?? (() => Date.now());
  const scopes = new Map<string, { at: number; value: Resolved | 'expired' | 'missing' }>();
  const cache = new FileCache(opts.cacheBytes);
  const sessions = new SessionPlaylists();

  /** What every session of one automated webinar shares, looked up once a second (not per session). */
  const airings = new Map<string, { at: number; value: Airing | 'missing' }>();
  interface Airing {
    asset: AssetRow;
    schedule: Schedule;
    markers: TimedMarker[];
    root: string | undefined;
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
        ? {
            asset,
            schedule,
            markers: markersOf(interactionsOf(event)),
            root: opts.storage.localDir(revisionPrefix(asset.id, revision)),
          }
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
        root: a.root,
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
        ? { asset, growing, root: opts.storage.localDir(revisionPrefix(asset.id, revision)) }
        : 'missing';
    if (scopes.size > 10_000) scopes.clear();
    scopes.set(key, { at: now(), value });
    return value;
  }

  /**
   * A cached copy. While a revision grows (encoding, or live) its playlists change: they are
   * revalidated against the disk every 200 ms; segments never change once written. A copy read
   * while growing is re-read once the revision is published (the VOD playlists replace the live ones).
   */
  async function load(file: string, growing: boolean): Promise<CachedFile | undefined> {
    const cached = cache.get(file);
    const stale =
      cached !== undefined &&
      ((cached.growing && !growing) || (growing && file.endsWith('.m3u8') && now() - cached.checkedAt > 200));
    if (cached && !stale) return cached;
    const stat = await fsp.stat(file).catch(() => undefined);
    if (!stat?.isFile()) return undefined;
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
      cached.checkedAt = now();
      cached.growing = growing;
      return cached;
    }
    const entry: CachedFile = {
      body: stat.size <= MAX_CACHED_FILE ? await fsp.readFile(file) : undefined,
      size: stat.size,
      etag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
      lastModified: stat.mtime.toUTCString(),
      mtimeMs: stat.mtimeMs,
      checkedAt: now(),
      growing,
    };
    if (entry.body) cache.set(file, entry);
    return entry;
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
    root: string,
    parts: readonly string[],
    filePath: string,
    ext: string,
  ): Promise<boolean> {
    const at = now();
    if (ext === '.m3u8' && parts.length > 1) {
      const answer = await sessions.playlist(filePath, session, at);
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
      const rungDir = path.join(root, ...parts.slice(0, -1));
      const verdict = await sessions.segmentAllowed(rungDir, parts.at(-1)!, session, at);
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
    const ext = path.extname(rel);
    const type = CONTENT_TYPES[ext];
    if (!type) return end(res, 404);
    const resolved = await resolve(scope, id, revision);
    if (resolved === 'expired') return end(res, 403, 'replay expired');
    if (resolved === 'missing') return end(res, 404);
    if (!resolved.root) return end(res, 501);
    const filePath = path.join(resolved.root, rel);
    if (resolved.session) {
      const answered = await answerSession(req, res, resolved.session, resolved.root, parts, filePath, ext);
      if (answered) return;
    }
    const file = await load(filePath, resolved.growing);
    if (!file) return end(res, 404);

    const headers: Record<string, string | number> = {
      ...CORS,
      'Content-Type': type,
      // A growing playlist changes every segment; everything else at a revisioned URL never does.
      'Cache-Control': resolved.growing && ext === '.m3u8' ? 'public, max-age=1' : IMMUTABLE,
      ETag: file.etag,
      'Last-Modified': file.lastModified,
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
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'Content-Length': last - start + 1,
      ...(range ? { 'Content-Range': `bytes ${start}-${last}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    if (file.body) return void res.end(range ? file.body.subarray(start, last + 1) : file.body);
    fs.createReadStream(filePath, { start, end: last }).pipe(res);
  }

  return (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) end(res, 500);
      else res.destroy();
    });
  };
}
