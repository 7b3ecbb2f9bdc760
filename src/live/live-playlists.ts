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

const ownerKey = (assetId: string) => `onair:live-owner:${assetId}`;

/**
 * Fencing: the live job that holds the event's BullMQ lock claims the recording's output under a
 * token of its own; a worker that lost the lock without knowing yet (it was too slow to renew it)
 * then finds its token replaced, and every write it tries is refused instead of overwriting the
 * new owner's playlists or state.
 */
export async function claimLiveOutput(redis: Redis, assetId: string, owner: string): Promise<void> {
  await redis.set(ownerKey(assetId), owner, 'EX', 7 * 24 * 3600);
}

export async function ownsLiveOutput(redis: Redis, assetId: string, owner: string): Promise<boolean> {
  return (await redis.get(ownerKey(assetId))) === owner;
}

// Compare-and-set: the playlist is written only while `owner` still holds the output.
const PUBLISH_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) return 1 end return 0`;

/** Publishes a live playlist; with `owner`, only while it holds the output (false: fenced off). */
export async function publishLivePlaylist(
  redis: Redis,
  assetId: string,
  file: string,
  text: string,
  owner?: string,
): Promise<boolean> {
  if (owner === undefined) {
    await redis.set(key(assetId, file), text, 'EX', TTL_SECONDS);
    return true;
  }
  const done = await redis.eval(
    PUBLISH_IF_OWNER,
    2,
    ownerKey(assetId),
    key(assetId, file),
    owner,
    text,
    TTL_SECONDS,
  );
  return done === 1;
}

export async function readLivePlaylist(
  redis: Redis,
  assetId: string,
  file: string,
): Promise<string | undefined> {
  return (await redis.get(key(assetId, file))) ?? undefined;
}

/** Once the replay is published its VOD playlists replace these. */
export async function dropLivePlaylists(
  redis: Redis,
  assetId: string,
  files: readonly string[],
): Promise<void> {
  if (files.length > 0) await redis.del(...files.map((f) => key(assetId, f)));
}
