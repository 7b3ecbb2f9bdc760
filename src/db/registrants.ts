import { sql, type Selectable } from 'kysely';
import { newId, nowIso } from '../ids.ts';
import type { Db } from './database.ts';
import { containsText } from './like-pattern.ts';
import type { ConsentsTable, RegistrantsTable } from './schema.ts';
import { utcIso } from './timestamps.ts';

export type RegistrantRow = Selectable<RegistrantsTable>;
export type ConsentRow = Selectable<ConsentsTable>;

export interface Registration {
  eventId: string;
  email: string;
  name: string | null;
  company: string | null;
  marketingConsent: boolean;
  noticeUrl: string | null;
  noticeVersion: string | null;
  /** The supported language the browser asked for (its emails' language in `auto` events). */
  language?: string | null;
  /** The browser's IANA time zone (times in its emails). */
  timeZone?: string | null;
}

/**
 * Registers a viewer for an event. An email (case-insensitive) that already has a registration
 * gets that registration back with `created: false` and **nothing changes**: whoever types an
 * address may not overwrite that person's name, company or consent, nor speak for them in the
 * consent history. A new registration records its consents (access, and marketing granted or not)
 * with the notice version the viewer saw.
 *
 * Two registrations of one address at once (a double click, several HTTP processes, several
 * machines on PostgreSQL) are settled by the unique index on (event_id, email): the insert does
 * nothing when the row exists or is being inserted by another transaction (PostgreSQL waits for
 * that one to commit, SQLite's writer lock serialises them), and both then read the one row.
 */
export async function register(
  db: Db,
  r: Registration,
): Promise<{ registrant: RegistrantRow; created: boolean }> {
  const email = r.email.trim().toLowerCase();
  const now = nowIso();
  return db.transaction().execute(async (tx) => {
    const id = newId('rg');
    const inserted = await tx
      .insertInto('registrants')
      .values({
        id,
        event_id: r.eventId,
        email,
        name: r.name,
        company: r.company,
        marketing_consent: r.marketingConsent ? 1 : 0,
        created_at: now,
        updated_at: now,
        anonymised_at: null,
        restricted_at: null,
        language: r.language ?? null,
        time_zone: r.timeZone ?? null,
      })
      .onConflict((oc) => oc.columns(['event_id', 'email']).doNothing())
      .executeTakeFirst();
    const created = Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
    if (created) {
      const consent = (purpose: 'access' | 'marketing', granted: boolean) => ({
        id: newId('cs'),
        registrant_id: id,
        purpose,
        granted: granted ? 1 : 0,
        notice_url: r.noticeUrl,
        notice_version: r.noticeVersion,
        source: 'registration' as const,
        created_at: now,
      });
      await tx
        .insertInto('consents')
        .values([consent('access', true), consent('marketing', r.marketingConsent)])
        .execute();
    }
    // A new statement sees the other transaction's committed row (PostgreSQL: read committed).
    const registrant = await findByEmail(tx, r.eventId, email);
    if (!registrant) throw new Error('registration neither inserted nor found');
    return { registrant, created };
  });
}

function findByEmail(db: Db, eventId: string, email: string): Promise<RegistrantRow | undefined> {
  return db
    .selectFrom('registrants')
    .selectAll()
    .where('event_id', '=', eventId)
    .where('email', '=', email)
    .executeTakeFirst();
}

/** Appends one entry to a registrant's history, with the notice they last agreed to. */
async function recordRight(
  tx: Db,
  registrantId: string,
  purpose: ConsentRow['purpose'],
  granted: boolean,
  source: ConsentRow['source'],
  now: string,
): Promise<void> {
  const last = await tx
    .selectFrom('consents')
    .select(['notice_url', 'notice_version'])
    .where('registrant_id', '=', registrantId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst();
  await tx
    .insertInto('consents')
    .values({
      id: newId('cs'),
      registrant_id: registrantId,
      purpose,
      granted: granted ? 1 : 0,
      notice_url: last?.notice_url ?? null,
      notice_version: last?.notice_version ?? null,
      source,
      created_at: now,
    })
    .execute();
}

/** Rectification (GDPR art. 16): corrects name and company; recorded in the history. */
export async function rectifyRegistrant(
  db: Db,
  registrantId: string,
  fields: { name?: string | null | undefined; company?: string | null | undefined },
  source: ConsentRow['source'],
): Promise<void> {
  const now = nowIso();
  await db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('registrants')
      .set({
        ...(fields.name !== undefined ? { name: fields.name || null } : {}),
        ...(fields.company !== undefined ? { company: fields.company || null } : {}),
        updated_at: now,
      })
      .where('id', '=', registrantId)
      .where('anonymised_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0)
      await recordRight(tx, registrantId, 'rectification', true, source, now);
  });
}

/**
 * Restriction of processing (GDPR art. 18): the record is kept, but the viewer is left out of
 * marketing (exports say no) and analytics (heartbeats are not recorded, past viewing not counted).
 */
export async function restrictRegistrant(
  db: Db,
  registrantId: string,
  restricted: boolean,
  source: ConsentRow['source'],
): Promise<void> {
  const now = nowIso();
  await db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('registrants')
      .set({ restricted_at: restricted ? now : null, updated_at: now })
      .where('id', '=', registrantId)
      .where('anonymised_at', 'is', null)
      .where('restricted_at', restricted ? 'is' : 'is not', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) > 0)
      await recordRight(tx, registrantId, 'restriction', restricted, source, now);
  });
}

export async function findRegistrant(db: Db, id: string): Promise<RegistrantRow | undefined> {
  return db.selectFrom('registrants').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function consentsOf(db: Db, registrantId: string): Promise<ConsentRow[]> {
  return db
    .selectFrom('consents')
    .selectAll()
    .where('registrant_id', '=', registrantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function withdrawMarketing(
  db: Db,
  registrantId: string,
  source: ConsentRow['source'],
): Promise<void> {
  const now = nowIso();
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('registrants')
      .set({ marketing_consent: 0, updated_at: now })
      .where('id', '=', registrantId)
      .execute();
    await recordRight(tx, registrantId, 'marketing', false, source, now);
  });
}

/**
 * Erasure (GDPR art. 17): personal data is removed; the row stays as an anonymous id so viewing
 * analytics and the consent history (which hold no personal data) still add up.
 */
export async function eraseRegistrants(db: Db, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const result = await db
    .updateTable('registrants')
    .set({
      email: null,
      name: null,
      company: null,
      marketing_consent: 0,
      // Where the person is (their zone) goes with who they are.
      time_zone: null,
      anonymised_at: nowIso(),
    })
    .where('id', 'in', ids)
    .where('anonymised_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface RegistrantStats extends RegistrantRow {
  seconds_watched: number;
  furthest_position: number;
}

/**
 * A page of an event's registrants in registration order, with their watch stats. `search` keeps
 * those whose email, name or company contains it (case-insensitive, `%` and `_` literal). The page
 * is read first (the `registrants_event_created` index gives it in order) and only its rows'
 * viewings are summed: the work is the page's, not the event's, except that a search walks past
 * the registrants it does not match.
 */
export async function listRegistrantsWithStats(
  db: Db,
  eventId: string,
  opts: { limit: number; offset: number; registrantId?: string; search?: string | undefined },
): Promise<RegistrantStats[]> {
  let query = db.selectFrom('registrants').selectAll().where('event_id', '=', eventId);
  if (opts.registrantId) query = query.where('id', '=', opts.registrantId);
  const search = opts.search;
  if (search) {
    query = query.where((eb) =>
      eb.or(['email', 'name', 'company'].map((column) => containsText(`registrants.${column}`, search))),
    );
  }
  const rows = await query
    .orderBy('created_at')
    .orderBy('id')
    .limit(opts.limit)
    .offset(opts.offset)
    .execute();
  const stats = new Map<string, { watched: number; furthest: number }>();
  if (rows.length > 0) {
    const sums = await db
      .selectFrom('view_sessions')
      .select([
        'registrant_id',
        sql<number>`coalesce(sum(seconds_watched), 0)`.as('watched'),
        sql<number>`coalesce(max(furthest_position), 0)`.as('furthest'),
      ])
      .where(
        'registrant_id',
        'in',
        rows.map((r) => r.id),
      )
      .groupBy('registrant_id')
      .execute();
    for (const s of sums) {
      stats.set(s.registrant_id!, { watched: Number(s.watched), furthest: Number(s.furthest) });
    }
  }
  return rows.map((r) => ({
    ...r,
    seconds_watched: stats.get(r.id)?.watched ?? 0,
    furthest_position: stats.get(r.id)?.furthest ?? 0,
  }));
}

export async function countRegistrants(db: Db, eventId: string): Promise<number> {
  const row = await db
    .selectFrom('registrants')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Books a registrant on an automated webinar's session (UTC ISO start). */
export async function bookSession(db: Db, registrantId: string, sessionAt: string): Promise<void> {
  await db
    .updateTable('registrants')
    .set({ session_at: utcIso(sessionAt) })
    .where('id', '=', registrantId)
    .execute();
}

/** One-click unsubscribe: no more reminder mails about this webinar. */
export async function stopReminders(db: Db, registrantId: string): Promise<void> {
  await db.updateTable('registrants').set({ reminders_off: 1 }).where('id', '=', registrantId).execute();
}

/** Registrants (not erased) booked on a session that starts after `now` (UTC ISO). */
export async function listFutureBookings(
  db: Db,
  eventId: string,
  now: string,
): Promise<{ id: string; session_at: string }[]> {
  const rows = await db
    .selectFrom('registrants')
    .select(['id', 'session_at'])
    .where('event_id', '=', eventId)
    .where('session_at', 'is not', null)
    .where('session_at', '>', utcIso(now))
    .where('anonymised_at', 'is', null)
    .orderBy('session_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ id: r.id, session_at: r.session_at! }));
}

/** How many registrants each session of an event has (UTC ISO start; null: not booked). */
export async function countRegistrantsBySession(
  db: Db,
  eventId: string,
): Promise<Map<string | null, number>> {
  const rows = await db
    .selectFrom('registrants')
    .select(['session_at', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .groupBy('session_at')
    .execute();
  return new Map(rows.map((r) => [r.session_at, Number(r.n)]));
}

/** Ids of an event's registrants not erased yet. */
export async function listUnerasedRegistrantIds(db: Db, eventId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('registrants')
    .select('id')
    .where('event_id', '=', eventId)
    .where('anonymised_at', 'is', null)
    .execute();
  return rows.map((r) => r.id);
}

/** Ids of registrants (not erased) whose booked session started at `cutoff` (UTC ISO) or before. */
export async function listRegistrantIdsBookedBy(db: Db, cutoff: string): Promise<string[]> {
  const rows = await db
    .selectFrom('registrants')
    .select('id')
    .where('session_at', 'is not', null)
    .where('session_at', '<=', utcIso(cutoff))
    .where('anonymised_at', 'is', null)
    .execute();
  return rows.map((r) => r.id);
}
