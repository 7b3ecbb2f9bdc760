import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { isUniqueViolation } from '../db/errors.ts';
import {
  appendUploadPart,
  claimUploadFinish,
  deleteUploadRow,
  existingUploadIds,
  findUpload,
  listExpiredUploadIds,
  listStrandedUploads,
  listUploadParts,
  markUploadFinished,
  releaseUploadFinish,
  type UploadPart,
  type UploadRow,
} from '../db/uploads.ts';
import type { Logger } from '../log.ts';
import { sourceKey, uploadPartKey, uploadPrefix, UPLOADS_ROOT } from '../media/layout.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Storage } from '../storage/storage.ts';
import { createQueuedAsset } from './asset-intake.ts';

/**
 * Resumable uploads (tus, `src/http/tus-routes.ts`) over the `Storage` interface, so they work
 * the same on local disk and on S3 with API nodes that share no disk: each request's bytes are
 * cut into part objects of at most `PART_BYTES` (the one buffer a request holds), each recorded
 * in the database by a compare-and-set on the upload's offset once stored. The offset is thus
 * always the sum of stored parts: a request cut off mid-way keeps what arrived (stored as a last,
 * shorter part), and of two requests appending at one offset only one counts.
 */

/** The most a request holds in memory, and the size of every part but a request's last. */
export const PART_BYTES = 8 * 1024 * 1024;
/** 10 000 parts of 8 MiB hold 78 GiB; the bound is for clients that send tiny requests. */
export const MAX_PARTS = 10_000;
/** Unfinished uploads (and their parts) go this long after creation. */
export const UPLOAD_TTL_MS = 24 * 3600_000;
/** A request body that brings nothing for this long is cut (what it brought is kept). */
export const IDLE_MS = 60_000;
/** A claim to concatenate an upload this old belongs to a process that died: another may take over. */
const FINISH_CLAIM_MS = 3600_000;

/** The offset moved under this request (another request appended first, or the upload finished). */
export class UploadConflictError extends Error {}
/** The body brings more than the upload's remaining bytes. */
export class UploadOverflowError extends Error {}
export class TooManyPartsError extends Error {}
/** The upload was removed (terminated or expired) while this request was appending. */
export class UploadGoneError extends Error {}
/** The body stopped before its end (connection dropped, or idle too long); what arrived is stored. */
export class BodyInterruptedError extends Error {}

export interface UploadStore {
  readonly db: Db;
  readonly storage: Storage;
}

/** Why a part's compare-and-set failed, read from the row as it is now. */
async function refusal(db: Db, uploadId: string): Promise<Error> {
  const row = await findUpload(db, uploadId);
  if (!row || Date.parse(row.expires_at) <= Date.now()) return new UploadGoneError('the upload was removed');
  if (row.part_count >= MAX_PARTS) return new TooManyPartsError(`the upload has ${MAX_PARTS} parts`);
  return new UploadConflictError('another request changed the upload');
}

/**
 * Appends `body` to `upload` at its offset (as read by the caller) and returns the new offset.
 * Throws `BodyInterruptedError` when the body stops early: the bytes received until then are
 * stored and counted, so HEAD reports the true offset. The body is not destroyed on other errors
 * (the caller still answers on its connection).
 */
export async function appendBody(
  store: UploadStore,
  upload: UploadRow,
  body: Readable,
  opts: { partBytes?: number; idleMs?: number } = {},
): Promise<number> {
  const { db, storage } = store;
  const partBytes = opts.partBytes ?? PART_BYTES;
  const idleMs = opts.idleMs ?? IDLE_MS;
  const remaining = upload.upload_length - upload.upload_offset;
  let offset = upload.upload_offset;
  let sequence = upload.part_count;
  let buffer: Buffer | undefined;
  let filled = 0;
  let received = 0;

  const storePart = async () => {
    if (!buffer || filled === 0) return;
    sequence += 1;
    const key = uploadPartKey(upload.id, sequence, crypto.randomBytes(4).toString('hex'));
    await storage.putBytes(key, buffer.subarray(0, filled), { contentType: 'application/octet-stream' });
    const part: UploadPart = { startOffset: offset, bytes: filled, storageKey: key };
    if (!(await appendUploadPart(db, upload.id, part, MAX_PARTS))) {
      await storage.deletePrefix(key);
      throw await refusal(db, upload.id);
    }
    offset += filled;
    filled = 0;
  };

  let idle: NodeJS.Timeout | undefined;
  const watchIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => body.destroy(new BodyInterruptedError(`nothing received for ${idleMs} ms`)),
      idleMs,
    );
  };
  // Not destroyed on an early exit: a refusal (409, 413) is still answered on this connection.
  const chunks = body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Buffer>;
  let bodyFailed = false;
  try {
    watchIdle();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        bodyFailed = true;
        throw err;
      }
      if (next.done) break;
      clearTimeout(idle);
      const chunk = next.value;
      received += chunk.length;
      if (received > remaining) {
        throw new UploadOverflowError(
          `the body is longer than the ${remaining} bytes the upload still needs`,
        );
      }
      for (let at = 0; at < chunk.length;) {
        buffer ??= Buffer.allocUnsafe(Math.min(partBytes, remaining));
        const copied = chunk.copy(buffer, filled, at);
        filled += copied;
        at += copied;
        if (filled === buffer.length) await storePart();
      }
      watchIdle();
    }
    clearTimeout(idle);
    await storePart();
    return offset;
  } catch (err) {
    clearTimeout(idle);
    if (!bodyFailed) throw err;
    // The connection dropped (or went quiet): keep what arrived, so the client resumes after it.
    await storePart();
    throw new BodyInterruptedError(`the request body stopped after ${received} bytes`, { cause: err });
  }
}

/** One readable stream of the parts' bytes, in order, read one part at a time. */
function concatenate(storage: Storage, parts: readonly UploadPart[]): Readable {
  return Readable.from(
    (async function* () {
      for (const part of parts) yield* storage.read(part.storageKey);
    })(),
    { objectMode: false },
  );
}

/** The parts must tile `[0, length)` exactly; anything else is a bug, never something to store. */
function checkTiling(upload: UploadRow, parts: readonly UploadPart[]): void {
  let next = 0;
  for (const part of parts) {
    if (part.startOffset !== next)
      throw new Error(`upload ${upload.id}: a part starts at ${part.startOffset}, not ${next}`);
    next += part.bytes;
  }
  if (next !== upload.upload_length)
    throw new Error(`upload ${upload.id}: its parts hold ${next} bytes, not ${upload.upload_length}`);
}

/**
 * Makes a complete upload an asset: streams its parts, in order, into the asset's source key,
 * creates the asset and queues its transcode as `POST /api/assets` does, then deletes the parts.
 * Returns the asset id, or undefined while another request is doing it. Safe to repeat after a
 * crash at any step: the asset id was fixed at creation, so a second run makes the same asset.
 */
export async function finishUpload(
  deps: UploadStore & { readonly queues: JobQueues; readonly log: Logger },
  upload: UploadRow,
): Promise<string | undefined> {
  const { db, storage } = deps;
  if (upload.finished_at) return upload.asset_id;
  const staleBefore = new Date(Date.now() - FINISH_CLAIM_MS).toISOString();
  if (!(await claimUploadFinish(db, upload.id, staleBefore))) {
    const now = await findUpload(db, upload.id);
    return now?.finished_at ? now.asset_id : undefined;
  }
  try {
    const existing = await findAsset(db, upload.asset_id);
    if (existing?.status === 'uploaded') {
      // An earlier attempt stored the row but not its job (the queue was away): the job id is the
      // asset id, so this adds it once however many attempts get here.
      await deps.queues.add('transcode-vod', { assetId: upload.asset_id }, upload.asset_id);
    }
    if (!existing) {
      const parts = await listUploadParts(db, upload.id);
      checkTiling(upload, parts);
      const key = sourceKey(upload.asset_id);
      const { bytes } = await storage.putStream(key, concatenate(storage, parts), {
        maxBytes: upload.upload_length,
      });
      if (bytes !== upload.upload_length) throw new Error(`upload ${upload.id}: concatenated ${bytes} bytes`);
      try {
        await createQueuedAsset(deps, {
          id: upload.asset_id,
          accountId: upload.account_id,
          title: upload.title,
          sourceKey: key,
          sourceBytes: bytes,
          sourceName: upload.filename ?? undefined,
        });
      } catch (err) {
        // A finisher whose claim went stale but who was only slow made it meanwhile: one asset.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    await markUploadFinished(db, upload.id);
  } catch (err) {
    await releaseUploadFinish(db, upload.id);
    throw err;
  }
  await storage.deletePrefix(uploadPrefix(upload.id));
  deps.log.info('resumable upload finished', { upload: upload.id, asset: upload.asset_id });
  return upload.asset_id;
}

/** Termination: the row first, so a request still appending fails its compare-and-set and removes its part. */
export async function removeUpload(store: UploadStore, uploadId: string): Promise<void> {
  await deleteUploadRow(store.db, uploadId);
  await store.storage.deletePrefix(uploadPrefix(uploadId));
}

/**
 * Makes assets of complete uploads whose last request ended, or whose process died, before it
 * did (a client that sent the last byte and left never asks again). Run at start-up and by the
 * hourly sweep; an upload a live request is finishing (a fresh claim) is left to it.
 */
export async function finishStrandedUploads(
  deps: UploadStore & { readonly queues: JobQueues; readonly log: Logger },
  now = Date.now(),
): Promise<number> {
  const stranded = await listStrandedUploads(deps.db, new Date(now - FINISH_CLAIM_MS).toISOString(), 50);
  let finished = 0;
  for (const upload of stranded) {
    try {
      if (await finishUpload(deps, upload)) finished += 1;
    } catch (err) {
      deps.log.warn('a complete upload could not be made an asset yet', {
        upload: upload.id,
        err: String(err),
      });
    }
  }
  if (finished > 0)
    deps.log.info('complete uploads made assets after their request ended', { count: finished });
  return finished;
}

/**
 * Removes expired uploads (unfinished ones with their parts; finished ones' rows, which only
 * answered HEAD with the asset id), and part objects of uploads that have no row (removed while a
 * request was still storing a part). A row is always written before its upload's first part, so a
 * folder without one is garbage on any storage, even one shared by several API nodes. Run at
 * start-up (with `removeAbandonedUploads`) and hourly (the retention sweep).
 */
export async function removeExpiredUploads(
  store: UploadStore,
  log: Logger,
  now = Date.now(),
): Promise<number> {
  const { db, storage } = store;
  const expired = await listExpiredUploadIds(db, new Date(now).toISOString());
  for (const id of expired) await removeUpload(store, id);
  const folders = [...new Set((await storage.list(UPLOADS_ROOT)).map((key) => key.split('/')[1]!))];
  const known = await existingUploadIds(db, folders);
  const orphans = folders.filter((id) => !known.has(id));
  for (const id of orphans) await storage.deletePrefix(uploadPrefix(id));
  if (expired.length + orphans.length > 0) {
    log.info('removed expired resumable uploads', { expired: expired.length, orphaned: orphans.length });
  }
  return expired.length + orphans.length;
}
