import { sql } from 'kysely';
import type { Db } from './database.ts';

/**
 * The analytics charts' series, each one grouped in SQL that SQLite and PostgreSQL run alike
 * (`substr` of the UTC ISO text for a day, `floor`, `count(distinct …)`) and each answer bounded
 * by a limit on its groups, whatever the event's size. As in the rest of analytics, registrants
 * who restricted processing (GDPR art. 18) are left out, and a viewer is a registrant (all their
 * viewings together) or one anonymous viewing.
 */

/** The UTC day (`2026-11-25`) of an ISO timestamp column; the same text in `select` and `group by`. */
const day = (column: string) => sql<string>`substr(${sql.ref(column)}, 1, 10)`;

/** Registrations per UTC day, the `days` latest days that have any (newest first). */
export async function countRegistrationsByDay(
  db: Db,
  eventId: string,
  days: number,
): Promise<{ day: string; n: number }[]> {
  const rows = await db
    .selectFrom('registrants')
    .select([day('created_at').as('day'), (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .where('restricted_at', 'is', null)
    .groupBy(day('created_at'))
    .orderBy(day('created_at'), 'desc')
    .limit(days)
    .execute();
  return rows.map((r) => ({ day: r.day, n: Number(r.n) }));
}

/** An event's viewings analytics may count: anonymous ones, and those of unrestricted registrants. */
function countableViewings(db: Db, eventId: string) {
  return db
    .selectFrom('view_sessions')
    .leftJoin('registrants', 'registrants.id', 'view_sessions.registrant_id')
    .where('view_sessions.event_id', '=', eventId)
    .where('registrants.restricted_at', 'is', null);
}

const viewer = sql`coalesce(view_sessions.registrant_id, view_sessions.id)`;

/** Viewers per UTC day their viewing started, the `days` latest days that have any (newest first). */
export async function countViewersByDay(
  db: Db,
  eventId: string,
  days: number,
): Promise<{ day: string; n: number }[]> {
  const started = day('view_sessions.started_at');
  const rows = await countableViewings(db, eventId)
    .select([started.as('day'), sql<number>`count(distinct ${viewer})`.as('n')])
    .where('view_sessions.seconds_watched', '>', 0)
    .groupBy(started)
    .orderBy(started, 'desc')
    .limit(days)
    .execute();
  return rows.map((r) => ({ day: r.day, n: Number(r.n) }));
}

/** Automated webinars: viewers per session (UTC ISO start), the `sessions` latest (newest first). */
export async function countViewersBySession(
  db: Db,
  eventId: string,
  sessions: number,
): Promise<{ sessionAt: string; n: number }[]> {
  const rows = await countableViewings(db, eventId)
    .select(['view_sessions.session_at', sql<number>`count(distinct ${viewer})`.as('n')])
    .where('view_sessions.seconds_watched', '>', 0)
    .where('view_sessions.session_at', 'is not', null)
    .groupBy('view_sessions.session_at')
    .orderBy('view_sessions.session_at', 'desc')
    .limit(sessions)
    .execute();
  return rows.map((r) => ({ sessionAt: r.session_at!, n: Number(r.n) }));
}

/** Automated webinars: registrants booked per session (UTC ISO start), the `sessions` latest. */
export async function countBookingsBySession(
  db: Db,
  eventId: string,
  sessions: number,
): Promise<{ sessionAt: string; n: number }[]> {
  const rows = await db
    .selectFrom('registrants')
    .select(['session_at', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .where('session_at', 'is not', null)
    .where('restricted_at', 'is', null)
    .groupBy('session_at')
    .orderBy('session_at', 'desc')
    .limit(sessions)
    .execute();
  return rows.map((r) => ({ sessionAt: r.session_at!, n: Number(r.n) }));
}

/**
 * How far viewers got, as a histogram: `minute` k counts the viewers whose furthest position is
 * in minute k (`[60k, 60k + 60)` s), and `minute` = `endMinute` those who reached the end (within
 * 2 s of `durationSeconds`, as the completion rate counts them). At most `endMinute + 1` rows.
 */
export async function countViewersByFurthestMinute(
  db: Db,
  eventId: string,
  durationSeconds: number,
): Promise<{ minute: number; n: number }[]> {
  const endMinute = Math.ceil(durationSeconds / 60);
  const end = Math.max(0, durationSeconds - 2);
  const furthest = sql<number>`max(view_sessions.furthest_position)`;
  // Grouped twice: per viewer (their furthest point), then per minute; the bucket is a column of
  // the inner query, so the outer `group by` names no expression that carries parameters.
  const perViewer = countableViewings(db, eventId)
    .select(
      sql<number>`case when ${furthest} >= ${end} then ${endMinute} else floor(${furthest} / 60) end`.as(
        'minute',
      ),
    )
    .groupBy(viewer)
    // A viewer who watched nothing is not a viewer (as `eventAnalytics` counts them).
    .having(sql<number>`sum(view_sessions.seconds_watched)`, '>', 0);
  const rows = await db
    .selectFrom(perViewer.as('v'))
    .select(['v.minute', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('v.minute')
    .orderBy('v.minute')
    .limit(endMinute + 1)
    .execute();
  return rows.map((r) => ({ minute: Number(r.minute), n: Number(r.n) }));
}
