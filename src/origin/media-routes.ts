import path from 'node:path';
import { Router } from 'express';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { revisionPrefix } from '../media/layout.ts';
import type { Storage } from '../storage/storage.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.vtt': 'text/vtt; charset=utf-8',
};

/**
 * Serves an asset's HLS output and images from `/media/<asset>/<revision>/<file>`. Only the
 * published revision and the one still encoding are visible; scratch files are never served.
 * Revisioned URLs let finished files be cached as immutable.
 */
export function mediaRoutes(deps: { db: Db; storage: Storage }): Router {
  const router = Router();
  router.get('/:assetId/:revision/{*file}', async (req, res, next) => {
    const { assetId, revision } = req.params;
    const file = (req.params as { file?: string[] }).file ?? [];
    const rel = file.join('/');
    const ext = path.extname(rel);
    const type = CONTENT_TYPES[ext];
    if (!type || file.some((p) => p === '..' || p.startsWith('.'))) return void res.sendStatus(404);
    const asset = await findAsset(deps.db, assetId);
    const published = asset?.status === 'ready' && asset.revision === revision;
    const growing = asset?.status !== 'ready' && asset?.preview_revision === revision;
    if (!asset || (!published && !growing)) return void res.sendStatus(404);
    const root = deps.storage.localDir(revisionPrefix(assetId, revision));
    if (!root) return void res.sendStatus(501);
    // A growing playlist changes every segment; everything else at a revisioned URL never changes.
    const cacheControl =
      growing && ext === '.m3u8' ? 'public, max-age=1' : 'public, max-age=31536000, immutable';
    res.set('Access-Control-Allow-Origin', '*');
    res.sendFile(
      rel,
      {
        root,
        dotfiles: 'deny',
        headers: { 'Content-Type': type, 'Cache-Control': cacheControl },
        cacheControl: false,
      },
      (err?: Error) => {
        if (err && !res.headersSent) res.sendStatus((err as { status?: number }).status ?? 404);
        else if (err) next(err);
      },
    );
  });
  return router;
}
