import { newId } from '../ids.ts';
import type { Db } from './database.ts';
import { utcIso, utcIsoOrNull } from './timestamps.ts';

/** A viewer's click on a call-to-action (`registrantId` null: anonymous, or not the owner). */
export async function recordCtaClick(
  db: Db,
  click: {
    eventId: string;
    ctaId: string;
    registrantId: string | null;
    sessionAt: string | null;
    at: string;
  },
): Promise<void> {
  await db
    .insertInto('cta_clicks')
    .values({
      id: newId('ck'),
      event_id: click.eventId,
      cta_id: click.ctaId,
      registrant_id: click.registrantId,
      session_at: utcIsoOrNull(click.sessionAt),
      created_at: utcIso(click.at),
    })
    .execute();
}

/** Clicks per call-to-action of an event. */
export async function countCtaClicks(db: Db, eventId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('cta_clicks')
    .select(['cta_id', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .groupBy('cta_id')
    .execute();
  return new Map(rows.map((r) => [r.cta_id, Number(r.n)]));
}

/** Votes per option of one poll: `votes[i]` for option i, for `options` options. */
export async function tallyPoll(db: Db, eventId: string, pollId: string, options: number): Promise<number[]> {
  const rows = await db
    .selectFrom('poll_votes')
    .select(['option_index', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .where('poll_id', '=', pollId)
    .groupBy('option_index')
    .execute();
  return Array.from({ length: options }, (_, i) =>
    Number(rows.find((r) => Number(r.option_index) === i)?.n ?? 0),
  );
}

/** Votes per poll and option of an event: `get(pollId)?.get(option)`. */
export async function countPollVotes(db: Db, eventId: string): Promise<Map<string, Map<number, number>>> {
  const rows = await db
    .selectFrom('poll_votes')
    .select(['poll_id', 'option_index', (eb) => eb.fn.countAll<number>().as('n')])
    .where('event_id', '=', eventId)
    .groupBy(['poll_id', 'option_index'])
    .execute();
  const byPoll = new Map<string, Map<number, number>>();
  for (const r of rows) {
    const options = byPoll.get(r.poll_id) ?? new Map<number, number>();
    options.set(Number(r.option_index), Number(r.n));
    byPoll.set(r.poll_id, options);
  }
  return byPoll;
}

/** The option a registrant voted for in a poll, if they did. */
export async function findPollVote(
  db: Db,
  eventId: string,
  pollId: string,
  registrantId: string,
): Promise<number | undefined> {
  const row = await db
    .selectFrom('poll_votes')
    .select('option_index')
    .where('event_id', '=', eventId)
    .where('poll_id', '=', pollId)
    .where('registrant_id', '=', registrantId)
    .executeTakeFirst();
  return row ? Number(row.option_index) : undefined;
}

/** One vote per registrant and poll: the first one stands (a second, even at once, is a no-op). */
export async function castPollVote(
  db: Db,
  vote: {
    eventId: string;
    pollId: string;
    registrantId: string;
    option: number;
    sessionAt: string | null;
    at: string;
  },
): Promise<void> {
  await db
    .insertInto('poll_votes')
    .values({
      event_id: vote.eventId,
      poll_id: vote.pollId,
      registrant_id: vote.registrantId,
      option_index: vote.option,
      session_at: utcIsoOrNull(vote.sessionAt),
      created_at: utcIso(vote.at),
    })
    .onConflict((oc) => oc.columns(['event_id', 'poll_id', 'registrant_id']).doNothing())
    .execute();
}
