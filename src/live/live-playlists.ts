import type { Redis } from 'ioredis';

/**
 * The live edge of a live event, shared through Redis: the live job builds each playlist in memory
 * and publishes it here (and to storage, for takeovers and the replay); every origin reads it from
 * here, never from a disk. `file` is a path inside the recording's revision: `master.m3u8` or
 * `<rendition>/index.m3u8`.
 */
const key = (assetId: string, file: string) => `onair:live-hls:${assetId}:${file}`;

/** A playlist outlives its last update by this long (a stopped job's viewers finish up, then it goes). */
const TTL_SECONDS = 3600;

export async function publishLivePlaylist(
  redis: Redis,
  assetId: string,
  file: string,
  text: string,
): Promise<void> {
  await redis.set(key(assetId, file), text, 'EX', TTL_SECONDS);
}

export async function readLivePlaylist(redis: Redis, assetId: string, file: string): Promise<string | undefined> {
  return (await redis.get(key(assetId, file))) ?? undefined;
}

/** Once the replay is published its VOD playlists replace these. */
export async function dropLivePlaylists(redis: Redis, assetId: string, files: readonly string[]): Promise<void> {
  if (files.length > 0) await redis.del(...files.map((f) => key(assetId, f)));
}
