import type { PublishProtocol } from './admission.ts';
import type { Redis } from 'ioredis';

/**
 * What the ingest and the live workers share through Redis, per live event: who is publishing
 * (held by the ingest while the RTMP session lasts, with a TTL so a dead ingest frees it), whether
 * the presenter stopped on purpose, whether the stream should be cut, and the stream's health.
 */
export interface PublisherRecord {
  /** The ingest's session id: a reconnect is a new session. */
  readonly session: string;
  /**
   * The ingest holding the stream. A worker pulls `/live/<event id>` from it with a URL it signs
   * itself at use: this record (and Redis's AOF) holds neither the stream key nor a usable URL.
   */
  readonly ingestHost: string;
  readonly ingestPort: number;
  readonly since: number;
  /** Bits per second arriving from the encoder, over the last few seconds. */
  readonly inputBitrate: number;
  /** Seconds between the encoder's keyframes, as the ingest sees them (unknown before the second). */
  readonly keyframeSeconds?: number;
  /** How the presenter publishes: RTMP (OBS), SRT, or WHIP (the browser) through a bridge. */
  readonly protocol?: PublishProtocol;
}

export interface LiveHealth {
  readonly status: string;
  readonly inputBitrate: number | null;
  readonly fps: number | null;
  /** Encoder speed: below 1.0 the worker falls behind the presenter. */
  readonly speed: number | null;
  readonly droppedFrames: number;
  /** Seconds of the stream lost between periods (reconnects, takeovers). */
  readonly droppedSeconds: number;
  /** The same, in segments. */
  readonly droppedSegments: number;
  readonly periods: number;
  readonly passthrough: boolean;
  readonly renditions: readonly string[];
  /** Seconds between the encoder's keyframes, and what the presenter should change (null: nothing). */
  readonly keyframeSeconds?: number | null;
  readonly keyframeAdvice?: string | null;
  readonly updatedAt: string;
}

/**
 * A live encoder fed in real time runs at 1.0 by definition, measured a little either side of it;
 * below this, sustained, it is falling behind the presenter.
 */
export const FALLING_BEHIND_SPEED = 0.95;

const key = (eventId: string, what: string) => `onair:live:${eventId}:${what}`;
export const PUBLISHER_TTL_MS = 8000;

/** Claims the event's publisher slot; false when another session holds it. */
export async function claimPublisher(
  redis: Redis,
  eventId: string,
  record: PublisherRecord,
): Promise<boolean> {
  const ok = await redis.set(key(eventId, 'publisher'), JSON.stringify(record), 'PX', PUBLISHER_TTL_MS, 'NX');
  return ok === 'OK';
}

// Compare-and-act on the session id, atomically.
const REFRESH = `local v = redis.call('GET', KEYS[1]) if v and cjson.decode(v).session == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0`;
const RELEASE = `local v = redis.call('GET', KEYS[1]) if v and cjson.decode(v).session == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0`;

export async function refreshPublisher(
  redis: Redis,
  eventId: string,
  record: PublisherRecord,
): Promise<boolean> {
  const done = await redis.eval(
    REFRESH,
    1,
    key(eventId, 'publisher'),
    record.session,
    JSON.stringify(record),
    String(PUBLISHER_TTL_MS),
  );
  return done === 1;
}

export async function releasePublisher(redis: Redis, eventId: string, session: string): Promise<void> {
  await redis.eval(RELEASE, 1, key(eventId, 'publisher'), session);
}

export async function currentPublisher(redis: Redis, eventId: string): Promise<PublisherRecord | undefined> {
  const raw = await redis.get(key(eventId, 'publisher'));
  return raw ? (JSON.parse(raw) as PublisherRecord) : undefined;
}

/** The presenter pressed "Stop streaming" (RTMP deleteStream), as opposed to a dropped connection. */
export async function markStopped(redis: Redis, eventId: string, stopped: boolean): Promise<void> {
  if (stopped) await redis.set(key(eventId, 'stopped'), '1', 'EX', 3600);
  else await redis.del(key(eventId, 'stopped'));
}

export async function wasStopped(redis: Redis, eventId: string): Promise<boolean> {
  return (await redis.exists(key(eventId, 'stopped'))) === 1;
}

/** Set by the live job when the event ends: the ingest then cuts whoever is still publishing. */
export async function markEnded(redis: Redis, eventId: string): Promise<void> {
  await redis.set(key(eventId, 'ended'), '1', 'EX', 24 * 3600);
}

export async function isEnded(redis: Redis, eventId: string): Promise<boolean> {
  return (await redis.exists(key(eventId, 'ended'))) === 1;
}

export async function clearEnded(redis: Redis, eventId: string): Promise<void> {
  await redis.del(key(eventId, 'ended'));
}

export async function writeHealth(redis: Redis, eventId: string, health: LiveHealth): Promise<void> {
  await redis.set(key(eventId, 'health'), JSON.stringify(health), 'EX', 30);
}

export async function readHealth(redis: Redis, eventId: string): Promise<LiveHealth | undefined> {
  const raw = await redis.get(key(eventId, 'health'));
  return raw ? (JSON.parse(raw) as LiveHealth) : undefined;
}
