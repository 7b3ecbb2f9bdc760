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

/**
 * Every change of a live playlist is announced here (message `<assetId>/<file>`), so that origins
 * holding blocking LL-HLS requests (`_HLS_msn`) answer the moment the part they wait for is listed.
 */
export const LIVE_CHANGES_CHANNEL = 'onair:live-hls-changed';

// Compare-and-set: the playlist is written (and announced) only while `owner` still holds the output.
const PUBLISH_IF_OWNER = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) redis.call('PUBLISH', ARGV[4], ARGV[5]) return 1 end return 0`;

/** Publishes a live playlist; with `owner`, only while it holds the output (false: fenced off). */
export async function publishLivePlaylist(
  redis: Redis,
  assetId: string,
  file: string,
  text: string,
  owner?: string,
): Promise<boolean> {
  return publish(redis, assetId, key(assetId, file), file, text, TTL_SECONDS, owner);
}

async function publish(
  redis: Redis,
  assetId: string,
  redisKey: string,
  file: string,
  value: string | Buffer,
  ttlSeconds: number,
  owner: string | undefined,
): Promise<boolean> {
  if (owner === undefined) {
    await redis.set(redisKey, value, 'EX', ttlSeconds);
    await redis.publish(LIVE_CHANGES_CHANNEL, `${assetId}/${file}`);
    return true;
  }
  const done = await redis.eval(
    PUBLISH_IF_OWNER,
    2,
    ownerKey(assetId),
    redisKey,
    owner,
    value,
    ttlSeconds,
    LIVE_CHANGES_CHANNEL,
    `${assetId}/${file}`,
  );
  return done === 1;
}

/**
 * LL-HLS parts (`<rendition>/<period>/part_<msn>_<index>.m4s`) live only here: a playlist lists a
 * segment's parts for its last few seconds, and the segment itself is stored as usual.
 */
const partKey = (assetId: string, file: string) => `onair:live-part:${assetId}:${file}`;
const PART_TTL_SECONDS = 60;
/** A part's file name (inside its rendition's period folder). */
export const PART_FILE = /^part_\d{5,9}_\d{1,3}\.m4s$/;

export function publishLivePart(
  redis: Redis,
  assetId: string,
  file: string,
  bytes: Uint8Array,
  owner?: string,
): Promise<boolean> {
  const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return publish(redis, assetId, partKey(assetId, file), file, value, PART_TTL_SECONDS, owner);
}

export async function readLivePart(redis: Redis, assetId: string, file: string): Promise<Buffer | undefined> {
  return (await redis.getBuffer(partKey(assetId, file))) ?? undefined;
}

/**
 * Calls `changed(assetId, file)` for every live playlist or part published from now on, over a
 * connection of its own (a subscribed connection can do nothing else). Notices published while
 * that connection was down are lost: `resubscribed()` is called once it is back (ioredis
 * subscribes again by itself), so the caller can treat everything as changed. Returns the
 * unsubscribe.
 */
export async function watchLiveChanges(
  redis: Redis,
  changed: (assetId: string, file: string) => void,
  resubscribed: () => void = () => undefined,
): Promise<() => Promise<void>> {
  const subscriber = redis.duplicate();
  // ioredis reconnects by itself; an outage is reported by the main connection's own watchers.
  subscriber.on('error', () => undefined);
  let subscribed = false;
  subscriber.on('ready', () => {
    if (subscribed) resubscribed();
  });
  subscriber.on('message', (_channel: string, message: string) => {
    const slash = message.indexOf('/');
    if (slash > 0) changed(message.slice(0, slash), message.slice(slash + 1));
  });
  try {
    await subscriber.subscribe(LIVE_CHANGES_CHANNEL);
    subscribed = true;
  } catch (err) {
    // Refused (e.g. an ACL without this channel): the connection must not go on reconnecting unowned.
    subscriber.disconnect();
    throw err;
  }
  return async () => {
    await subscriber.quit().catch(() => subscriber.disconnect());
  };
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
