import { eventEndedAt } from '../db/events.ts';
import type { Db } from '../db/database.ts';
import { eraseRegistrants } from '../db/registrants.ts';

/**
 * Retention: registrants of events that ended more than `days` ago are anonymised, and so are
 * registrants of an automated webinar whose session was more than `days` ago (such webinars may
 * air for years). Run by a scheduled job; `now` is injectable so tests need not wait 90 days.
 */
export async function anonymiseExpiredRegistrants(db: Db, now: Date, days: number): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const events = await db
    .selectFrom('events')
    .selectAll()
    .where((eb) => eb.or([eb('ended_at', '<=', cutoff), eb('replay_expires_at', '<=', cutoff)]))
    .execute();
  let erased = 0;
  for (const event of events) {
    const ended = eventEndedAt(event);
    if (!ended || ended > cutoff) continue;
    const ids = await db
      .selectFrom('registrants')
      .select('id')
      .where('event_id', '=', event.id)
      .where('anonymised_at', 'is', null)
      .execute();
    erased += await eraseRegistrants(
      db,
      ids.map((r) => r.id),
    );
  }
  const pastSessions = await db
    .selectFrom('registrants')
    .select('id')
    .where('session_at', 'is not', null)
    .where('session_at', '<=', cutoff)
    .where('anonymised_at', 'is', null)
    .execute();
  erased += await eraseRegistrants(
    db,
    pastSessions.map((r) => r.id),
  );
  return erased;
}
