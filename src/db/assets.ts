import { sql, type Selectable, type Updateable } from 'kysely';
import { nowIso } from '../ids.ts';
import type { Db } from './database.ts';
import type { AssetsTable, AssetStatus } from './schema.ts';
import { utcIso } from './timestamps.ts';

export type AssetRow = Selectable<AssetsTable>;

export interface NewAsset {
  id: string;
  accountId: string;
  title: string;
  sourceKey: string;
  sourceBytes: number;
  sourceName: string | undefined;
}

export async function insertAsset(db: Db, a: NewAsset): Promise<AssetRow> {
  const now = nowIso();
  const row = {
    id: a.id,
    account_id: a.accountId,
    title: a.title,
    status: 'uploaded' as AssetStatus,
    stage: 'queued',
    progress: 0,
    error: null,
    source_key: a.sourceKey,
    source_bytes: a.sourceBytes,
    source_name: a.sourceName ?? null,
    source_json: null,
    duration_seconds: null,
    renditions_json: null,
    revision: null,
    preview_revision: null,
    created_at: now,
    updated_at: now,
    ready_at: null,
  };
  await db.insertInto('assets').values(row).execute();
  return (await findAsset(db, a.id))!;
}

/** Numbers stay numbers whatever the driver (openDatabase also parses PostgreSQL's int8). */
function normalise(row: AssetRow): AssetRow {
  return { ...row, source_bytes: Number(row.source_bytes), progress: Number(row.progress) };
}

export async function findAsset(db: Db, id: string): Promise<AssetRow | undefined> {
  const row = await db.selectFrom('assets').selectAll().where('id', '=', id).executeTakeFirst();
  return row && normalise(row);
}

export async function findAccountAsset(db: Db, accountId: string, id: string): Promise<AssetRow | undefined> {
  const row = await db
    .selectFrom('assets')
    .selectAll()
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row && normalise(row);
}

export async function listAccountAssets(
  db: Db,
  accountId: string,
  opts: { limit: number; before?: string | undefined },
): Promise<AssetRow[]> {
  let q = db.selectFrom('assets').selectAll().where('account_id', '=', accountId);
  if (opts.before) q = q.where('created_at', '<', utcIso(opts.before));
  const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map(normalise);
}

export async function updateAsset(
  db: Db,
  id: string,
  patch: Omit<Updateable<AssetsTable>, 'id' | 'account_id' | 'updated_at'>,
): Promise<boolean> {
  const result = await db
    .updateTable('assets')
    .set({ ...patch, updated_at: nowIso() })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countAttempt(db: Db, id: string): Promise<void> {
  await db
    .updateTable('assets')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), updated_at: nowIso() }))
    .where('id', '=', id)
    .execute();
}

export async function deleteAssetRow(db: Db, id: string): Promise<void> {
  await db.deleteFrom('assets').where('id', '=', id).execute();
}

/** Where live recordings are kept: their assets belong to the live job, not the transcoder. */
const LIVE_SOURCE_PREFIX = 'live/';

/**
 * Uploads accepted while the queue was unreachable, or before a crash: uploaded or processing,
 * and not a live recording. A prefix test with `substr`, not `like`: LIKE ignores case on SQLite
 * and not on PostgreSQL, and treats `_` and `%` in keys as wildcards.
 */
export async function listUnfinishedUploads(db: Db): Promise<{ id: string }[]> {
  return db
    .selectFrom('assets')
    .select('id')
    .where('status', 'in', ['uploaded', 'processing'])
    .where(
      sql<string>`substr(source_key, 1, ${sql.lit(LIVE_SOURCE_PREFIX.length)})`,
      '<>',
      LIVE_SOURCE_PREFIX,
    )
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
