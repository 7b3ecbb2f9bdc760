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
