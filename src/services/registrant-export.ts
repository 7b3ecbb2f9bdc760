import { consentsOf, listRegistrantsWithStats, type RegistrantRow } from '../db/registrants.ts';
import type { Db } from '../db/database.ts';
import type { EventRow } from '../db/events.ts';
import { findAsset } from '../db/assets.ts';
import { toCsv } from './csv.ts';

const HEADER = [
  'registrant_id',
  'email',
  'name',
  'company',
  'registered_at',
  'access_consent_at',
  'marketing_consent',
  'marketing_consent_changed_at',
  'privacy_notice_version',
  'privacy_notice_url',
  'seconds_watched',
  'furthest_position_seconds',
  'completion_percent',
  'restricted_at',
  'anonymised_at',
];

async function durationOf(db: Db, event: EventRow): Promise<number> {
  const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
  return asset?.duration_seconds ?? 0;
}

async function rowFor(
  db: Db,
  r: RegistrantRow & { seconds_watched: number; furthest_position: number },
  duration: number,
): Promise<unknown[]> {
  const consents = await consentsOf(db, r.id);
  const access = consents.filter((c) => c.purpose === 'access' && c.granted === 1).at(-1);
  const marketing = consents.filter((c) => c.purpose === 'marketing').at(-1);
  return [
    r.id,
    r.email,
    r.name,
    r.company,
    r.created_at,
    access?.created_at ?? '',
    // Restricted (GDPR art. 18): out of marketing whatever was once agreed.
    r.marketing_consent === 1 && !r.restricted_at ? 'yes' : 'no',
    marketing?.created_at ?? '',
    access?.notice_version ?? '',
    access?.notice_url ?? '',
    Math.round(r.seconds_watched),
    Math.round(r.furthest_position),
    duration > 0 ? Math.min(100, Math.round((r.furthest_position / duration) * 100)) : 0,
    r.restricted_at ?? '',
    r.anonymised_at ?? '',
  ];
}

/** All registrants of an event with consent and watch stats, as RFC 4180 CSV. */
export async function registrantsCsv(db: Db, event: EventRow): Promise<string> {
  const duration = await durationOf(db, event);
  const rows: unknown[][] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await listRegistrantsWithStats(db, event.id, { limit: 500, offset });
    for (const r of page) rows.push(await rowFor(db, r, duration));
    if (page.length < 500) break;
  }
  return toCsv(HEADER, rows);
}

/** One viewer's own data (GDPR art. 15 and 20): everything onair holds about them for this event. */
export async function registrantData(db: Db, event: EventRow, registrantId: string) {
  const [me] = await listRegistrantsWithStats(db, event.id, { limit: 1, offset: 0, registrantId });
  if (!me) return undefined;
  const duration = await durationOf(db, event);
  const consents = await consentsOf(db, registrantId);
  return {
    csv: toCsv(HEADER, [await rowFor(db, me, duration)]),
    json: {
      event: { title: event.title, webinarId: event.webinar_id },
      registrant: {
        id: me.id,
        email: me.email,
        name: me.name,
        company: me.company,
        marketingConsent: me.marketing_consent === 1,
        restrictedAt: me.restricted_at,
        registeredAt: me.created_at,
        // What the browser told us at registration: the language and time zone of their emails.
        language: me.language,
        timeZone: me.time_zone,
      },
      consents: consents.map((c) => ({
        purpose: c.purpose,
        granted: c.granted === 1,
        noticeUrl: c.notice_url,
        noticeVersion: c.notice_version,
        source: c.source,
        at: c.created_at,
      })),
      viewing: {
        secondsWatched: Math.round(me.seconds_watched),
        furthestPosition: Math.round(me.furthest_position),
      },
    },
  };
}
