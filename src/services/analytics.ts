import { creditViewSession, listCountableViewings } from '../db/analytics.ts';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { EventRow } from '../db/events.ts';
import { countRegistrants } from '../db/registrants.ts';

/** Longest gap a heartbeat may credit: a player that slept or cheated earns no more than this. */
const MAX_BEAT_SECONDS = 15;

export interface Heartbeat {
  /** The viewing's id, from the grant the event page handed out (never chosen by the client). */
  sessionId: string;
  eventId: string;
  registrantId: string | null;
  position: number;
  /** Seconds actually played since the previous beat, as the player reports it. */
  played: number;
  /** When the grant was issued: a viewing is credited at most the wall-clock time since. */
  startedAtMs: number;
  nowMs: number;
  /** Automated events: the session watched (ISO start). */
  sessionAt?: string | null;
}

/** Slack for clocks and the player's rounding when capping watch time by wall-clock time. */
const WALL_CLOCK_SLACK_SECONDS = 2;

/**
 * Credits one heartbeat. However many beats a client sends, a viewing never accrues more watch
 * time than the wall-clock time since its grant was issued (nor more than 15 s per beat).
 */
export async function recordHeartbeat(db: Db, beat: Heartbeat): Promise<void> {
  await creditViewSession(db, {
    sessionId: beat.sessionId,
    eventId: beat.eventId,
    registrantId: beat.registrantId,
    sessionAt: beat.sessionAt ?? null,
    startedAt: new Date(beat.startedAtMs).toISOString(),
    at: new Date(beat.nowMs).toISOString(),
    played: Math.max(0, Math.min(MAX_BEAT_SECONDS, beat.played)),
    capSeconds: Math.max(0, (beat.nowMs - beat.startedAtMs) / 1000 + WALL_CLOCK_SLACK_SECONDS),
    position: beat.position,
  });
}

/** Drop-off: the share of viewers still watching at each tenth of the duration (0 %, 10 % ... 100 %). */
export function dropOffCurve(furthest: readonly number[], duration: number): number[] {
  if (furthest.length === 0 || duration <= 0) return Array.from({ length: 11 }, () => 0);
  return Array.from({ length: 11 }, (_, k) => {
    // The last mark counts viewers within 2 s of the end as "still watching".
    const mark = k === 10 ? Math.max(0, duration - 2) : (k / 10) * duration;
    const still = furthest.filter((f) => f >= mark).length;
    return Math.round((still / furthest.length) * 1000) / 1000;
  });
}

export async function eventAnalytics(db: Db, event: EventRow) {
  const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
  const duration = asset?.duration_seconds ?? 0;
  // Restricted registrants (GDPR art. 18) are left out of analytics.
  const sessions = await listCountableViewings(db, event.id);
  // A viewer is a registrant (all their sessions together) or an anonymous session.
  const viewers = new Map<string, { watched: number; furthest: number }>();
  for (const s of sessions) {
    const key = s.registrant_id ?? `session:${viewers.size}:${Math.random()}`;
    const v = viewers.get(key) ?? { watched: 0, furthest: 0 };
    v.watched += Number(s.seconds_watched);
    v.furthest = Math.max(v.furthest, Number(s.furthest_position));
    viewers.set(key, v);
  }
  const watching = [...viewers.values()].filter((v) => v.watched > 0);
  const average = watching.length ? watching.reduce((t, v) => t + v.watched, 0) / watching.length : 0;
  return {
    eventId: event.id,
    durationSeconds: duration,
    registrants: await countRegistrants(db, event.id),
    viewers: watching.length,
    averageWatchSeconds: Math.round(average),
    completionRate: watching.length
      ? Math.round(
          (watching.filter((v) => duration > 0 && v.furthest >= duration - 2).length / watching.length) *
            1000,
        ) / 1000
      : 0,
    dropOff: dropOffCurve(
      watching.map((v) => v.furthest),
      duration,
    ),
  };
}
