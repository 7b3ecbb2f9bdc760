import { accountsToPurge, ACCOUNT_GRACE_DAYS } from '../db/accounts.ts';
import { deleteAssetRow } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { assetPrefix, sourcePrefix, uploadPrefix } from '../media/layout.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Storage } from '../storage/storage.ts';

/** An asset gone for good: its queued work, its row, its source and every rendition. */
export async function deleteAssetEverywhere(
  deps: { readonly db: Db; readonly storage: Storage; readonly queues: JobQueues },
  assetId: string,
): Promise<void> {
  await deps.queues.remove('transcode-vod', assetId);
  await deleteAssetRow(deps.db, assetId);
  await deps.storage.deletePrefix(sourcePrefix(assetId));
  await deps.storage.deletePrefix(assetPrefix(assetId));
}

/**
 * Accounts closed more than the grace period ago are purged: media first (so a crash part-way
 * leaves the row to try again), then the account row, whose deletion cascades to its events,
 * registrants, consents, users, sessions and keys. Returns how many accounts went.
 */
export async function purgeClosedAccounts(
  deps: { readonly db: Db; readonly storage: Storage; readonly queues: JobQueues },
  now: Date,
): Promise<number> {
  const cutoff = new Date(now.getTime() - ACCOUNT_GRACE_DAYS * 86_400_000).toISOString();
  const due = await accountsToPurge(deps.db, cutoff, 20);
  for (const accountId of due) {
    const assets = await deps.db
      .selectFrom('assets')
      .select('id')
      .where('account_id', '=', accountId)
      .execute();
    for (const { id } of assets) await deleteAssetEverywhere(deps, id);
    // Unfinished resumable uploads: their parts (their rows go with the account).
    const uploads = await deps.db
      .selectFrom('uploads')
      .select('id')
      .where('account_id', '=', accountId)
      .execute();
    for (const { id } of uploads) await deps.storage.deletePrefix(uploadPrefix(id));
    // Reopening is refused once the grace period is over, so the account cannot come back meanwhile.
    await deps.db
      .deleteFrom('accounts')
      .where('id', '=', accountId)
      .where('deletion_requested_at', '<', cutoff)
      .execute();
  }
  return due.length;
}
