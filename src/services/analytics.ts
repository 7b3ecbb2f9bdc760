import { sql } from 'kysely';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { EventRow } from '../db/events.ts';
import { countRegistrants } from '../db/registrants.ts';
import { nowIso } from '../ids.ts';

/** Longest gap a heartbeat may credit: a player that slept or cheated earns no more than this. */
const MAX_BEAT_SECONDS = 15;

export interface Heartbeat {
  sessionId: string;
  eventId: string;
  registrantId: string | null;
  position: number;
  /** Seconds actually played since the previous beat. */
  played: number;
  /** Automated events: the session watched (ISO start). */
  sessionAt?: string | null;
}

export async function recordHeartbeat(db: Db, beat: Heartbeat): Promise<void> {
  const played = Math.max(0, Math.min(MAX_BEAT_SECONDS, beat.played));
  const now = nowIso();
  await db
    .insertInto('view_sessions')
    .values({
      id: beat.sessionId,
      event_id: beat.eventId,
      registrant_id: beat.registrantId,
      seconds_watched: played,
      furthest_position: beat.position,
      started_at: now,
      last_seen_at: now,
      session_at: beat.sessionAt ?? null,
    })
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet({
          seconds_watched: sql`view_sessions.seconds_watched + ${played}`,
          // CASE, not max()/greatest(): the one spelling SQLite and PostgreSQL share.
          furthest_position: sql`case when view_sessions.furthest_position > ${beat.position} then view_sessions.furthest_position else ${beat.position} end`,
          last_seen_at: now,
        })
        // A session id belongs to the event it started on.
        .where('view_sessions.event_id', '=', beat.eventId),
    )
    .execute();
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
  const sessions = await db
    .selectFrom('view_sessions')
    .select(['registrant_id', 'seconds_watched', 'furthest_position'])
    .where('event_id', '=', event.id)
    .execute();
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
