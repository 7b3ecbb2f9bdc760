/** Storage keys: where each asset's files live. */
export function sourceKey(assetId: string): string {
  return `sources/${assetId}/source`;
}

export function assetPrefix(assetId: string): string {
  return `assets/${assetId}`;
}

/** Each transcode attempt writes under its own revision; the row names the published one. */
export function revisionPrefix(assetId: string, revision: string): string {
  return `assets/${assetId}/${revision}`;
}
