import { Router } from 'express';
import { z } from 'zod';
import { findAccountAsset, findAsset, listAccountAssets } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { newId } from '../ids.ts';
import { sourceKey, sourcePrefix, SOURCES_ROOT } from '../media/layout.ts';
import type { Logger } from '../log.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import { ObjectTooLargeError, type Storage } from '../storage/storage.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';
import { deleteAssetEverywhere } from '../services/account-purge.ts';
import { createQueuedAsset } from '../services/asset-intake.ts';
import { removeExpiredUploads } from '../services/resumable-uploads.ts';
import { assetView } from './asset-view.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';

/** An asset's title, however the upload names it (`required` says where it goes). */
export const assetTitle = (required: string) =>
  z.string().trim().min(1, required).max(200, 'must be at most 200 characters');
export const AssetFilename = z.string().trim().max(255).optional();
const UploadQuery = z.object({
  title: assetTitle('is required (?title=...)'),
  filename: AssetFilename,
});
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.iso.datetime().optional(),
});
const AssetId = z.string().regex(/^as_[A-Za-z0-9]{16}$/, 'is not an asset id');

/**
 * A stored source may lack its row for this long on shared storage: another API node has just
 * stored it and is writing the row (milliseconds; an hour leaves room for a stalled database).
 */
const ORPHAN_GRACE_MS = 3600_000;

/**
 * Run once at start-up, before the server takes uploads: removes what uploads cut short by a crash
 * left in storage. An upload streams to a temporary name (local disk) or a multipart upload (S3),
 * becomes visible when whole, and only then gets its row; so a temporary file is a half upload, and
 * a `sources/<id>/` without a row is one whose server died before the row was written. On local
 * storage nothing else is uploading yet, so all of it goes; on shared storage another API node may
 * be between storing a source and writing its row, so only sources without a row for an hour go.
 * (S3 keeps unfinished multipart uploads out of listings: a bucket lifecycle rule aborts them.)
 * Resumable (tus) uploads past their expiry go too, with their parts, and parts whose upload has
 * no row (`removeExpiredUploads`, which the hourly retention sweep also runs).
 */
export async function removeAbandonedUploads(
  db: Db,
  storage: Storage,
  log: Logger,
  now = Date.now(),
): Promise<void> {
  const keys = await storage.list(SOURCES_ROOT);
  const removed: string[] = [];
  for (const id of new Set(keys.map((key) => key.split('/')[1]!))) {
    const partials = keys.filter((key) => key.startsWith(`${sourcePrefix(id)}/`) && key !== sourceKey(id));
    let abandoned: string[];
    if (await findAsset(db, id)) abandoned = storage.kind === 'local' ? partials : [];
    else if (storage.kind === 'local') abandoned = [sourcePrefix(id)];
    else {
      const stored = await storage.stat(sourceKey(id));
      abandoned = stored && now - stored.modified.getTime() > ORPHAN_GRACE_MS ? [sourcePrefix(id)] : [];
    }
    for (const key of abandoned) await storage.deletePrefix(key);
    removed.push(...abandoned);
  }
  if (removed.length > 0) log.warn('removed uploads cut short by a crash', { keys: removed });
  await removeExpiredUploads({ db, storage }, log, now);
}

export function tooLargeError(maxUploadBytes: number): HttpError {
  return new HttpError(
    413,
    'too_large',
    `The file is larger than the upload limit of ${maxUploadBytes} bytes.`,
  );
}

export interface AssetRoutesDeps {
  db: Db;
  storage: Storage;
  queues: JobQueues;
  maxUploadBytes: number;
  /** Public base URL, from configuration. */
  baseUrl: () => string;
  urls: PlaybackUrls;
}

export function assetRoutes(deps: AssetRoutesDeps): Router {
  const { db, storage, queues } = deps;
  const router = Router();

  router.post('/', async (req, res) => {
    const query = parseOr400(UploadQuery, req.query, 'query');
    const type = req.get('content-type') ?? '';
    // curl --data-binary labels raw bodies as form-urlencoded, so only multipart is refused.
    if (type.startsWith('multipart/')) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'Send the file itself as the request body (for example: curl --data-binary @talk.mp4), not a form.',
      );
    }
    const declared = Number(req.get('content-length') ?? NaN);
    if (declared > deps.maxUploadBytes) throw tooLargeError(deps.maxUploadBytes);
    if (declared === 0)
      throw new HttpError(400, 'empty_body', 'The request body is empty: send the file as the body.');

    const account = accountOf(res);
    const id = newId('as');
    const key = sourceKey(id);
    let bytes: number;
    try {
      ({ bytes } = await storage.putStream(key, req, { maxBytes: deps.maxUploadBytes }));
    } catch (err) {
      await storage.deletePrefix(sourcePrefix(id));
      if (err instanceof ObjectTooLargeError) {
        res.set('Connection', 'close');
        throw tooLargeError(deps.maxUploadBytes);
      }
      if (req.destroyed || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') {
        throw new HttpError(
          400,
          'upload_interrupted',
          'The upload was interrupted before the file was complete.',
        );
      }
      throw err;
    }
    if (bytes === 0) {
      await storage.deletePrefix(sourcePrefix(id));
      throw new HttpError(400, 'empty_body', 'The request body is empty: send the file as the body.');
    }
    const row = await createQueuedAsset(deps, {
      id,
      accountId: account.id,
      title: query.title,
      sourceKey: key,
      sourceBytes: bytes,
      sourceName: query.filename,
    });
    res
      .status(202)
      .location(`/api/assets/${id}`)
      .json(assetView(row, deps.baseUrl(), deps.urls));
  });

  router.get('/', async (req, res) => {
    const query = parseOr400(ListQuery, req.query, 'query');
    const rows = await listAccountAssets(db, accountOf(res).id, query);
    const base = deps.baseUrl();
    res.json({
      assets: rows.map((r) => assetView(r, base, deps.urls)),
      next: rows.length === query.limit ? (rows.at(-1)?.created_at ?? null) : null,
    });
  });

  router.get('/:id', async (req, res) => {
    const id = parseOr400(AssetId, req.params.id, 'asset id');
    const row = await findAccountAsset(db, accountOf(res).id, id);
    // Another account's asset is "not found", not "forbidden": ids do not leak across accounts.
    if (!row) throw new HttpError(404, 'not_found', `No asset ${id} in this account.`);
    res.json(assetView(row, deps.baseUrl(), deps.urls));
  });

  router.delete('/:id', async (req, res) => {
    const id = parseOr400(AssetId, req.params.id, 'asset id');
    const row = await findAccountAsset(db, accountOf(res).id, id);
    if (!row) throw new HttpError(404, 'not_found', `No asset ${id} in this account.`);
    await deleteAssetEverywhere({ db, storage, queues }, id);
    res.status(204).end();
  });

  return router;
}
