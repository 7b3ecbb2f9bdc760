import type { Db } from '../db/database.ts';
import { eventEndedAt, listEventsEndedBy } from '../db/events.ts';
import { eraseRegistrants, listRegistrantIdsBookedBy, listUnerasedRegistrantIds } from '../db/registrants.ts';

/**
 * Retention: registrants of events that ended more than `days` ago are anonymised, and so are
 * registrants of an automated webinar whose session was more than `days` ago (such webinars may
 * air for years). Run by a scheduled job; `now` is injectable so tests need not wait 90 days.
 */
export async function anonymiseExpiredRegistrants(db: Db, now: Date, days: number): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  let erased = 0;
  for (const event of await listEventsEndedBy(db, cutoff)) {
    const ended = eventEndedAt(event);
    if (!ended || Date.parse(ended) > Date.parse(cutoff)) continue;
    erased += await eraseRegistrants(db, await listUnerasedRegistrantIds(db, event.id));
  }
  erased += await eraseRegistrants(db, await listRegistrantIdsBookedBy(db, cutoff));
  return erased;
}
