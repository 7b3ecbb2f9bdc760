import type { Selectable, Updateable } from 'kysely';
import { newId, newStreamKey, newWebinarId, nowIso } from '../ids.ts';
import type { Schedule } from '../automated/schedule.ts';
import { NO_INTERACTIONS, type Interactions } from '../automated/interactions.ts';
import type { Db } from './database.ts';
import { isUniqueViolation } from './errors.ts';
import type { LanguageSetting } from '../i18n/languages.ts';
import type { EventsTable, EventType } from './schema.ts';
import { utcIso, utcIsoOrNull } from './timestamps.ts';

export type EventRow = Selectable<EventsTable>;

export type FieldRule = 'off' | 'optional' | 'required';

export interface GateSettings {
  /** Viewers give an email (with consent choices) before they can watch. */
  emailRequired: boolean;
  fields: { name: FieldRule; company: FieldRule };
  privacyNoticeUrl: string | null;
  privacyNoticeVersion: string | null;
}

export const OPEN_GATE: GateSettings = {
  emailRequired: false,
  fields: { name: 'off', company: 'off' },
  privacyNoticeUrl: null,
  privacyNoticeVersion: null,
};

export function gateOf(row: EventRow): GateSettings {
  return JSON.parse(row.gate_json) as GateSettings;
}

export function scheduleOf(row: EventRow): Schedule | undefined {
  return row.schedule_json ? (JSON.parse(row.schedule_json) as Schedule) : undefined;
}

export function interactionsOf(row: EventRow): Interactions {
  return row.interactions_json ? (JSON.parse(row.interactions_json) as Interactions) : NO_INTERACTIONS;
}

export interface NewEvent {
  accountId: string;
  title: string;
  description: string;
  type: EventType;
  assetId: string | null;
  startsAt: string;
  gate: GateSettings;
  replayExpiresAt: string | null;
  schedule?: Schedule | null;
  interactions?: Interactions | null;
  /** Live events: stream LL-HLS parts (when the server has them on). Default true. */
  lowLatency?: boolean;
  /** Live events: SRT callers must encrypt with the event's passphrase. Default false. */
  srtEncryption?: boolean;
  /** Viewer pages, emails and invites. Default `auto`. */
  language?: LanguageSetting;
}

export async function insertEvent(db: Db, e: NewEvent): Promise<EventRow> {
  const now = nowIso();
  // Random IDs collide rarely (webinar IDs: 1 in 900 million per pair); retry on the unique index.
  // Every unique column of a new event (id, webinar_id, stream_key) is drawn at random here, so
  // any unique violation is such a collision.
  for (let attempt = 0; ; attempt++) {
    const row: EventRow = {
      id: newId('ev'),
      account_id: e.accountId,
      webinar_id: newWebinarId(),
      title: e.title,
      description: e.description,
      type: e.type,
      asset_id: e.assetId,
      starts_at: utcIso(e.startsAt),
      gate_json: JSON.stringify(e.gate),
      replay_expires_at: utcIsoOrNull(e.replayExpiresAt),
      ended_at: null,
      created_at: now,
      updated_at: now,
      stream_key: e.type === 'live' ? newStreamKey() : null,
      stream_key_disabled: 0,
      low_latency: e.lowLatency === false ? 0 : 1,
      srt_encrypted: e.srtEncryption ? 1 : 0,
      live_status: 'idle',
      live_started_at: null,
      schedule_json: e.schedule ? JSON.stringify(e.schedule) : null,
      interactions_json: e.interactions ? JSON.stringify(e.interactions) : null,
      language: e.language ?? 'auto',
    };
    try {
      await db.insertInto('events').values(row).execute();
      return row;
    } catch (err) {
      if (attempt >= 5 || !isUniqueViolation(err)) throw err;
    }
  }
}

export async function findAccountEvent(db: Db, accountId: string, id: string): Promise<EventRow | undefined> {
  return db
    .selectFrom('events')
    .selectAll()
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
}

/** Viewers and presenters reach an event by its webinar ID or stream key, unless its account is closed. */
function openEvents(db: Db) {
  return db
    .selectFrom('events')
    .innerJoin('accounts', 'accounts.id', 'events.account_id')
    .selectAll('events')
    .where('accounts.deletion_requested_at', 'is', null);
}

export async function findEventByWebinarId(db: Db, webinarId: string): Promise<EventRow | undefined> {
  return openEvents(db).where('events.webinar_id', '=', webinarId).executeTakeFirst();
}

/** An event of an open account (what a presenter link reaches): undefined once the account is closed. */
export async function findOpenAccountEvent(
  db: Db,
  accountId: string,
  id: string,
): Promise<EventRow | undefined> {
  return openEvents(db)
    .where('events.id', '=', id)
    .where('events.account_id', '=', accountId)
    .executeTakeFirst();
}

export async function findEventByStreamKey(db: Db, streamKey: string): Promise<EventRow | undefined> {
  return openEvents(db).where('events.stream_key', '=', streamKey).executeTakeFirst();
}

export async function findEvent(db: Db, id: string): Promise<EventRow | undefined> {
  return db.selectFrom('events').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listAccountEvents(
  db: Db,
  accountId: string,
  opts: { limit: number; before?: string | undefined; onlyIds?: readonly string[] | undefined },
): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('account_id', '=', accountId);
  if (opts.onlyIds) {
    if (opts.onlyIds.length === 0) return [];
    q = q.where('id', 'in', [...opts.onlyIds]);
  }
  if (opts.before) q = q.where('created_at', '<', utcIso(opts.before));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
}

export async function updateEvent(
  db: Db,
  id: string,
  patch: Omit<Updateable<EventsTable>, 'id' | 'account_id' | 'webinar_id' | 'created_at' | 'updated_at'>,
): Promise<void> {
  const times = {
    ...(typeof patch.starts_at === 'string' ? { starts_at: utcIso(patch.starts_at) } : {}),
    ...(typeof patch.replay_expires_at === 'string'
      ? { replay_expires_at: utcIso(patch.replay_expires_at) }
      : {}),
    ...(typeof patch.ended_at === 'string' ? { ended_at: utcIso(patch.ended_at) } : {}),
  };
  await db
    .updateTable('events')
    .set({ ...patch, ...times, updated_at: nowIso() })
    .where('id', '=', id)
    .execute();
}

/** Events over (ended, or their replay expired) at `cutoff` (UTC ISO) or before: for retention. */
export async function listEventsEndedBy(db: Db, cutoff: string): Promise<EventRow[]> {
  const at = utcIso(cutoff);
  return db
    .selectFrom('events')
    .selectAll()
    .where((eb) => eb.or([eb('ended_at', '<=', at), eb('replay_expires_at', '<=', at)]))
    .orderBy('id')
    .execute();
}

export async function deleteEvent(db: Db, id: string): Promise<void> {
  await db.deleteFrom('events').where('id', '=', id).execute();
}

/** When an event is over, for retention: ended explicitly, or its replay expired. */
export function eventEndedAt(row: EventRow): string | null {
  return row.ended_at ?? row.replay_expires_at;
}
