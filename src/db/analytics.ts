import { databaseKind, type Db } from './database.ts';
import { utcIso, utcIsoOrNull } from './timestamps.ts';

/** One heartbeat's credit to a viewing (`view_sessions` row), as analytics computed it. */
export interface ViewCredit {
  /** The viewing's id, from its signed grant. */
  sessionId: string;
  eventId: string;
  registrantId: string | null;
  /** Automated events: the session watched (UTC ISO start). */
  sessionAt: string | null;
  /** When the grant was issued (UTC ISO): the row's `started_at` when this beat creates it. */
  startedAt: string;
  /** This beat's time (UTC ISO). */
  at: string;
  /** Seconds to add to the watched total ... */
  played: number;
  /** ... which never goes past this. */
  capSeconds: number;
  /** Playback position reported (seconds); the furthest one is kept. */
  position: number;
}

/**
 * Adds one heartbeat to its viewing, creating the row on the first beat. A beat naming a viewing
 * of another event changes nothing. Two beats of one viewing handled at once (two HTTP processes)
 * must not both add to the same old total, nor fail:
 * - the transaction starts with a write (the row is created if missing, `on conflict do nothing`),
 *   so on SQLite it takes the writer lock first and waits for the other process (busy_timeout)
 *   instead of failing with "database is locked" when its read snapshot goes stale;
 * - on PostgreSQL the row is then read `for update`, which holds the other beat until this one
 *   commits (SQLite has a single writer already, and no `for update`).
 */
export async function creditViewSession(db: Db, c: ViewCredit): Promise<void> {
  const lock = databaseKind(db) === 'postgres';
  const now = utcIso(c.at);
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('view_sessions')
      .values({
        id: c.sessionId,
        event_id: c.eventId,
        registrant_id: c.registrantId,
        seconds_watched: 0,
        furthest_position: 0,
        started_at: utcIso(c.startedAt),
        last_seen_at: now,
        session_at: utcIsoOrNull(c.sessionAt),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    let query = tx
      .selectFrom('view_sessions')
      .select(['event_id', 'seconds_watched', 'furthest_position'])
      .where('id', '=', c.sessionId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row || row.event_id !== c.eventId) return;
    await tx
      .updateTable('view_sessions')
      .set({
        seconds_watched: Math.min(c.capSeconds, Number(row.seconds_watched) + c.played),
        furthest_position: Math.max(Number(row.furthest_position), c.position),
        last_seen_at: now,
      })
      .where('id', '=', c.sessionId)
      .execute();
  });
}

/**
 * Every viewing of an event that analytics may count: anonymous ones, and those of registrants
 * not restricted (GDPR art. 18).
 */
export async function listCountableViewings(
  db: Db,
  eventId: string,
): Promise<{ registrant_id: string | null; seconds_watched: number; furthest_position: number }[]> {
  const rows = await db
    .selectFrom('view_sessions')
    .leftJoin('registrants', 'registrants.id', 'view_sessions.registrant_id')
    .select([
      'view_sessions.registrant_id',
      'view_sessions.seconds_watched',
      'view_sessions.furthest_position',
    ])
    .where('view_sessions.event_id', '=', eventId)
    .where('registrants.restricted_at', 'is', null)
    .orderBy('view_sessions.id')
    .execute();
  return rows.map((r) => ({
    registrant_id: r.registrant_id,
    seconds_watched: Number(r.seconds_watched),
    furthest_position: Number(r.furthest_position),
  }));
}

/** Viewings of an event with a heartbeat after `since` (UTC ISO): who is watching now. */
export async function countViewingsSince(db: Db, eventId: string, since: string): Promise<number> {
  const row = await db
    .selectFrom('view_sessions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('event_id', '=', eventId)
    .where('last_seen_at', '>', utcIso(since))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Viewers now of every event watched since `since` (UTC ISO), at most `limit` events (most watched first). */
export async function countViewersByEvent(
  db: Db,
  since: string,
  limit: number,
): Promise<{ eventId: string; viewers: number }[]> {
  const rows = await db
    .selectFrom('view_sessions')
    .select(['event_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('last_seen_at', '>', utcIso(since))
    .groupBy('event_id')
    .orderBy('n', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ eventId: r.event_id, viewers: Number(r.n) }));
}

/** Distinct registrants who watched each session of an event (UTC ISO start; null: none). */
export async function countAttendeesBySession(db: Db, eventId: string): Promise<Map<string | null, number>> {
  const rows = await db
    .selectFrom('view_sessions')
    .select(['session_at', (eb) => eb.fn.count<number>('registrant_id').distinct().as('n')])
    .where('event_id', '=', eventId)
    .groupBy('session_at')
    .execute();
  return new Map(rows.map((r) => [r.session_at, Number(r.n)]));
}

/** Whether a registrant watched any of one session (for the no-show mail). */
export async function watchedSession(db: Db, registrantId: string, sessionAt: string): Promise<boolean> {
  const row = await db
    .selectFrom('view_sessions')
    .select('id')
    .where('registrant_id', '=', registrantId)
    .where('session_at', '=', utcIso(sessionAt))
    .where('seconds_watched', '>', 0)
    .executeTakeFirst();
  return row !== undefined;
}
