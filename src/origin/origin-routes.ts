import fs from 'node:fs/promises';
import path from 'node:path';
import { Router, type Response } from 'express';
import { findAsset, type AssetRow } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { findEventByWebinarId } from '../db/events.ts';
import { revisionPrefix } from '../media/layout.ts';
import type { Storage } from '../storage/storage.ts';
import { checkToken, type TokenScope } from './tokens.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.vtt': 'text/vtt; charset=utf-8',
};
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface OriginDeps {
  db: Db;
  storage: Storage;
  secret: string;
  now?: () => number;
}

interface Resolved {
  asset: AssetRow;
  /** The revision folder still being encoded: its playlists change. */
  growing: boolean;
}

interface CachedPlaylist {
  body: Buffer;
  etag: string;
  lastModified: string;
  checkedAt: number;
  mtimeMs: number;
}

/**
 * The HLS origin: `/s/<hash>/<expires>/<e|a>/<id>/<revision>/<file>`. Every request is checked
 * against its signed prefix (403 otherwise) and resolved to the asset revision it may see:
 * the published one, or the one still encoding. Media files are served by `sendFile` (Range,
 * ETag, Last-Modified, 304, HEAD); playlists, tiny and asked for constantly, from memory.
 */
export function originRoutes(deps: OriginDeps): Router {
  const router = Router();
  const now = deps.now ?? (() => Date.now());
  // Scope -> asset resolution is cached briefly: thousands of segment requests, one lookup.
  const scopeCache = new Map<string, { at: number; value: Resolved | string }>();
  const playlists = new Map<string, CachedPlaylist>();

  async function resolve(scope: TokenScope, id: string, revision: string): Promise<Resolved | string> {
    const key = `${scope}/${id}/${revision}`;
    const hit = scopeCache.get(key);
    if (hit && now() - hit.at < 1000) return hit.value;
    let asset: AssetRow | undefined;
    let expired = false;
    if (scope === 'e') {
      const event = await findEventByWebinarId(deps.db, id);
      expired = Boolean(event?.replay_expires_at && Date.parse(event.replay_expires_at) < now());
      asset = event?.asset_id ? await findAsset(deps.db, event.asset_id) : undefined;
    } else {
      asset = await findAsset(deps.db, id);
    }
    const published = asset?.status === 'ready' && asset.revision === revision;
    const growing = asset?.status !== 'ready' && asset?.preview_revision === revision;
    const value: Resolved | string = expired
      ? 'expired'
      : asset && (published || growing)
        ? { asset, growing }
        : 'missing';
    if (scopeCache.size > 10_000) scopeCache.clear();
    scopeCache.set(key, { at: now(), value });
    return value;
  }

  async function sendPlaylist(
    res: Response,
    file: string,
    growing: boolean,
    ifNoneMatch: string | undefined,
  ) {
    let cached = playlists.get(file);
    const stale = !cached || (growing && now() - cached.checkedAt > 500);
    if (stale) {
      const stat = await fs.stat(file);
      if (!cached || cached.mtimeMs !== stat.mtimeMs) {
        const body = await fs.readFile(file);
        cached = {
          body,
          etag: `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`,
          lastModified: stat.mtime.toUTCString(),
          checkedAt: now(),
          mtimeMs: stat.mtimeMs,
        };
        if (playlists.size > 5000) playlists.clear();
        playlists.set(file, cached);
      } else cached.checkedAt = now();
    }
    const entry = cached!;
    res.set({
      'Content-Type': CONTENT_TYPES['.m3u8'],
      // A growing playlist changes every segment; a finished one never does (revisioned URL).
      'Cache-Control': growing ? 'public, max-age=1' : IMMUTABLE,
      ETag: entry.etag,
      'Last-Modified': entry.lastModified,
    });
    if (ifNoneMatch && ifNoneMatch.split(/\s*,\s*/).includes(entry.etag)) return void res.status(304).end();
    res.status(200).send(entry.body);
  }

  router.options('/{*any}', (_req, res) => {
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Allow-Headers': 'Range, If-None-Match, If-Modified-Since',
      'Access-Control-Max-Age': '86400',
    });
    res.status(204).end();
  });

  router.get('/:hash/:expires/:scope/:id/:revision/{*file}', async (req, res, next) => {
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Expose-Headers': 'Content-Length, Content-Range, ETag',
      'Timing-Allow-Origin': '*',
    });
    const { hash, expires, scope, id, revision } = req.params;
    const parts = (req.params as { file?: string[] }).file ?? [];
    if (scope !== 'e' && scope !== 'a') return void res.status(404).end();
    const check = checkToken(hash, expires, scope, id, deps.secret, Math.floor(now() / 1000));
    if (check !== 'ok') {
      res.set('Cache-Control', 'no-store');
      return void res
        .status(403)
        .type('text/plain')
        .send(check === 'expired' ? 'token expired' : 'invalid token');
    }
    // Path traversal: no `..`, no dot-files, only the file types we publish.
    const rel = parts.join('/');
    const ext = path.extname(rel);
    if (!CONTENT_TYPES[ext] || parts.some((p) => p === '' || p.startsWith('.') || p.includes('\\'))) {
      return void res.status(404).end();
    }
    const resolved = await resolve(scope, id, revision);
    if (resolved === 'expired') return void res.status(403).type('text/plain').send('replay expired');
    if (typeof resolved === 'string') return void res.status(404).end();
    const root = deps.storage.localDir(revisionPrefix(resolved.asset.id, revision));
    if (!root) return void res.status(501).end();

    if (ext === '.m3u8') {
      try {
        return await sendPlaylist(res, path.join(root, rel), resolved.growing, req.get('if-none-match'));
      } catch {
        return void res.status(404).end();
      }
    }
    res.sendFile(
      rel,
      {
        root,
        dotfiles: 'deny',
        headers: { 'Content-Type': CONTENT_TYPES[ext], 'Cache-Control': IMMUTABLE },
        cacheControl: false,
      },
      (err?: Error) => {
        if (err && !res.headersSent) res.status((err as { status?: number }).status ?? 404).end();
        else if (err) next(err);
      },
    );
  });
  return router;
}
