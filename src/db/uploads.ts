import type { Selectable } from 'kysely';
import { nowIso } from '../ids.ts';
import type { Db } from './database.ts';
import type { UploadsTable } from './schema.ts';

export type UploadRow = Selectable<UploadsTable>;

export interface UploadPart {
  readonly startOffset: number;
  readonly bytes: number;
  readonly storageKey: string;
}

export interface NewUpload {
  id: string;
  accountId: string;
  assetId: string;
  title: string;
  filename: string | undefined;
  filetype: string | undefined;
  length: number;
  expiresAt: string;
}

/** Numbers stay numbers whatever the driver (openDatabase also parses PostgreSQL's int8). */
function normalise(row: UploadRow): UploadRow {
  return {
    ...row,
    upload_length: Number(row.upload_length),
    upload_offset: Number(row.upload_offset),
    part_count: Number(row.part_count),
  };
}

export async function insertUpload(db: Db, u: NewUpload): Promise<UploadRow> {
  const now = nowIso();
  await db
    .insertInto('uploads')
    .values({
      id: u.id,
      account_id: u.accountId,
      asset_id: u.assetId,
      title: u.title,
      filename: u.filename ?? null,
      filetype: u.filetype ?? null,
      upload_length: u.length,
      upload_offset: 0,
      part_count: 0,
      expires_at: u.expiresAt,
      finishing_at: null,
      finished_at: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  return (await findUpload(db, u.id))!;
}

export async function findUpload(db: Db, id: string): Promise<UploadRow | undefined> {
  const row = await db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
  return row && normalise(row);
}

/** Another account's upload is not found: ids grant nothing across accounts. */
export async function findAccountUpload(
  db: Db,
  accountId: string,
  id: string,
): Promise<UploadRow | undefined> {
  const row = await db
    .selectFrom('uploads')
    .selectAll()
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row && normalise(row);
}

/** The upload's stored parts, in byte order. */
export async function listUploadParts(db: Db, uploadId: string): Promise<UploadPart[]> {
  const rows = await db
    .selectFrom('upload_parts')
    .select(['start_offset', 'bytes', 'storage_key'])
    .where('upload_id', '=', uploadId)
    .orderBy('start_offset')
    .execute();
  return rows.map((r) => ({
    startOffset: Number(r.start_offset),
    bytes: Number(r.bytes),
    storageKey: r.storage_key,
  }));
}

/**
 * Records a stored part: advances the offset from `part.startOffset` to its end, only if the
 * offset is still `part.startOffset`, the upload is not finished or expired and has fewer than
 * `maxParts` parts. One compare-and-set, so of two requests appending at one offset exactly one
 * wins; false for the other (its part object is not the upload's and must go).
 */
export async function appendUploadPart(
  db: Db,
  uploadId: string,
  part: UploadPart,
  maxParts: number,
): Promise<boolean> {
  const now = nowIso();
  return db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('uploads')
      .set((eb) => ({
        upload_offset: part.startOffset + part.bytes,
        part_count: eb('part_count', '+', 1),
        updated_at: now,
      }))
      .where('id', '=', uploadId)
      .where('upload_offset', '=', part.startOffset)
      .where('finished_at', 'is', null)
      .where('expires_at', '>', now)
      .where('part_count', '<', maxParts)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return false;
    await tx
      .insertInto('upload_parts')
      .values({
        upload_id: uploadId,
        start_offset: part.startOffset,
        bytes: part.bytes,
        storage_key: part.storageKey,
        created_at: now,
      })
      .execute();
    return true;
  });
}

/**
 * Claims the right to concatenate a complete upload's parts: true for one caller until it
 * finishes, releases the claim, or its claim is older than `staleBefore` (its process died).
 */
export async function claimUploadFinish(db: Db, uploadId: string, staleBefore: string): Promise<boolean> {
  const result = await db
    .updateTable('uploads')
    .set({ finishing_at: nowIso() })
    .where('id', '=', uploadId)
    .where('finished_at', 'is', null)
    .whereRef('upload_offset', '=', 'upload_length')
    .where((eb) => eb.or([eb('finishing_at', 'is', null), eb('finishing_at', '<', staleBefore)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseUploadFinish(db: Db, uploadId: string): Promise<void> {
  await db.updateTable('uploads').set({ finishing_at: null }).where('id', '=', uploadId).execute();
}

export async function markUploadFinished(db: Db, uploadId: string): Promise<void> {
  const now = nowIso();
  await db
    .updateTable('uploads')
    .set({ finished_at: now, finishing_at: null, updated_at: now })
    .where('id', '=', uploadId)
    .where('finished_at', 'is', null)
    .execute();
}

/** Removes the upload's row and its parts' rows (not the part objects). */
export async function deleteUploadRow(db: Db, uploadId: string): Promise<void> {
  await db.deleteFrom('uploads').where('id', '=', uploadId).execute();
}

/** Uploads whose time is up (finished ones too: their row only answered HEAD with the asset id). */
/** How long past its expiry a complete upload nobody could make an asset of is kept, to try again. */
const STRANDED_KEEP_MS = 7 * 86_400_000;

/**
 * Uploads past their expiry: unfinished ones and finished ones' rows. A complete upload not yet
 * made an asset (its finisher died) is kept for `finishStrandedUploads`, up to a week past expiry.
 */
export async function listExpiredUploadIds(db: Db, now: string): Promise<string[]> {
  const strandedUntil = new Date(Date.parse(now) - STRANDED_KEEP_MS).toISOString();
  const rows = await db
    .selectFrom('uploads')
    .select('id')
    .where('expires_at', '<=', now)
    .where((eb) =>
      eb.or([
        eb('finished_at', 'is not', null),
        eb('upload_offset', '<', eb.ref('upload_length')),
        eb('expires_at', '<=', strandedUntil),
      ]),
    )
    .orderBy('expires_at')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Complete uploads no one is making an asset of: the request that sent the last byte ended (or
 * its process died) before it did, and no claim younger than `staleBefore` is on them.
 */
export async function listStrandedUploads(db: Db, staleBefore: string, limit: number): Promise<UploadRow[]> {
  const rows = await db
    .selectFrom('uploads')
    .selectAll()
    .where('finished_at', 'is', null)
    .whereRef('upload_offset', '=', 'upload_length')
    .where((eb) => eb.or([eb('finishing_at', 'is', null), eb('finishing_at', '<', staleBefore)]))
    .orderBy('updated_at')
    .limit(limit)
    .execute();
  return rows.map(normalise);
}

/** Which of `ids` have an upload row. */
export async function existingUploadIds(db: Db, ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  // Bounded batches: SQLite caps bound parameters per statement.
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('uploads')
      .select('id')
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) found.add(r.id);
  }
  return found;
}
