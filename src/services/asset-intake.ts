import { insertAsset, type AssetRow, type NewAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { JobQueues } from '../queue/catalogue.ts';

/**
 * What every upload ends with, once its source is stored whole at `asset.sourceKey`: the asset's
 * row, then its transcode job (the asset id is the job id, so adding it twice queues it once).
 * Shared by `POST /api/assets` (one request) and tus uploads (`/api/uploads`).
 */
export async function createQueuedAsset(
  deps: { db: Db; queues: JobQueues },
  asset: NewAsset,
): Promise<AssetRow> {
  const row = await insertAsset(deps.db, asset);
  await deps.queues.add('transcode-vod', { assetId: asset.id }, asset.id);
  return row;
}
