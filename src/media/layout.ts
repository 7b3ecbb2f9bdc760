/** Storage keys: where each asset's files live. Uploads are the only thing under `sources/`. */
export const SOURCES_ROOT = 'sources';

export function sourcePrefix(assetId: string): string {
  return `${SOURCES_ROOT}/${assetId}`;
}

export function sourceKey(assetId: string): string {
  return `${sourcePrefix(assetId)}/source`;
}

export function assetPrefix(assetId: string): string {
  return `assets/${assetId}`;
}

/** Each transcode attempt writes under its own revision; the row names the published one. */
export function revisionPrefix(assetId: string, revision: string): string {
  return `assets/${assetId}/${revision}`;
}

/**
 * Resumable (tus) uploads in progress: each PATCH's bytes as numbered part objects under the
 * upload's own prefix, private (never served), removed once concatenated into `sourceKey`.
 */
export const UPLOADS_ROOT = 'uploads';

export function uploadPrefix(uploadId: string): string {
  return `${UPLOADS_ROOT}/${uploadId}`;
}

/** `part-000001-<random>`: numbered in order, and unique, so two racing PATCHes never write one key. */
export function uploadPartKey(uploadId: string, sequence: number, nonce: string): string {
  return `${uploadPrefix(uploadId)}/part-${String(sequence).padStart(6, '0')}-${nonce}`;
}
