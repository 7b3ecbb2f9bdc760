import { Router } from 'express';
import { z } from 'zod';
import { interactionsOf, type EventRow } from '../db/events.ts';
import { castPollVote, findPollVote, recordCtaClick, tallyPoll } from '../db/interactions.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { requireWatch } from './viewer-access.ts';
import type { ViewerContext } from './viewer-context.ts';
import { viewerTranslator } from './viewer-language.ts';

const Vote = z.object({ option: z.number().int().min(0).max(5) });

/**
 * What viewers do on the page besides watching: click a call-to-action, see and answer polls.
 * (Chat lines are scripted by the marketer and ride in the playlists' timed metadata.)
 */
export function interactionRoutes(ctx: ViewerContext): Router {
  const { db, deps, access, now } = ctx;
  const router = Router();

  router.post('/w/:webinarId/cta/:ctaId/click', async (req, res) => {
    const event = await ctx.eventFor(req);
    const cta = interactionsOf(event).ctas.find((c) => c.id === req.params.ctaId);
    if (!cta) throw new HttpError(404, 'not_found', 'No such call-to-action.');
    // Clicks feed the marketer's analytics: a script hammering the endpoint must not inflate them.
    if (!(await deps.rateLimit(`cta:${req.ip ?? 'unknown'}`, 30, 60))) {
      res.set('Retry-After', '60');
      throw new HttpError(429, 'rate_limited', 'Too many clicks. Try again in a minute.');
    }
    const viewer = await access.viewerOf(req, event);
    requireWatch(event, viewer, viewerTranslator(req, event).t('errors.registerForWebinar'));
    const registrant = viewer.owner && !viewer.registrant?.restricted_at ? viewer.registrant : undefined;
    const chosen = access.chosenSession(req, event, viewer);
    await recordCtaClick(db, {
      eventId: event.id,
      ctaId: cta.id,
      registrantId: registrant?.id ?? null,
      sessionAt: chosen !== undefined ? new Date(chosen).toISOString() : null,
      at: new Date(now()).toISOString(),
    });
    res.status(204).end();
  });

  /**
   * A poll's counts, computed at most once a second per process: every viewer of a large event
   * asks for them, and the answer must not cost a count of all votes each time.
   */
  const tallies = new Map<string, { at: number; votes: number[] }>();
  async function tally(eventId: string, pollId: string, options: number, fresh = false): Promise<number[]> {
    const key = `${eventId}/${pollId}`;
    const hit = tallies.get(key);
    if (!fresh && hit && now() - hit.at < 1000 && hit.votes.length === options) return hit.votes;
    const votes = await tallyPoll(db, eventId, pollId, options);
    if (tallies.size > 10_000) tallies.clear();
    tallies.set(key, { at: now(), votes });
    return votes;
  }

  async function pollResults(event: EventRow, pollId: string, registrantId: string | undefined) {
    const poll = interactionsOf(event).polls.find((p) => p.id === pollId);
    if (!poll) throw new HttpError(404, 'not_found', 'No such poll.');
    const votes = await tally(event.id, poll.id, poll.options.length);
    const mine = registrantId ? await findPollVote(db, event.id, poll.id, registrantId) : undefined;
    return {
      id: poll.id,
      question: poll.question,
      options: poll.options,
      votes,
      yourVote: mine ?? null,
    };
  }

  router.get('/w/:webinarId/polls/:pollId', async (req, res) => {
    const event = await ctx.eventFor(req);
    const viewer = await access.viewerOf(req, event);
    requireWatch(event, viewer, viewerTranslator(req, event).t('errors.registerForWebinar'));
    res
      .set('Cache-Control', 'no-store')
      .json(
        await pollResults(event, String(req.params.pollId), viewer.owner ? viewer.registrant?.id : undefined),
      );
  });

  // One vote per registrant, cast by the registration's own browser: the first vote stands.
  router.post('/w/:webinarId/polls/:pollId/vote', async (req, res) => {
    const event = await ctx.eventFor(req);
    const { option } = parseOr400(Vote, req.body, 'vote');
    const { t } = viewerTranslator(req, event);
    const viewer = await access.viewerOf(req, event);
    // Voting takes more than watching: a registration (even where the gate is open), and its browser.
    requireWatch(event, viewer, t('errors.registerToVote'));
    const { registrant, owner } = viewer;
    if (!registrant) throw new HttpError(403, 'forbidden', t('errors.registerToVote'));
    if (!owner) throw new HttpError(403, 'forbidden', t('errors.voteFromOwnBrowser'));
    const results = await pollResults(event, String(req.params.pollId), registrant.id);
    if (option >= results.options.length)
      throw new HttpError(400, 'invalid_request', t('errors.noSuchOption'));
    if (results.yourVote !== null) throw new HttpError(409, 'already_voted', t('errors.alreadyVoted'));
    await castPollVote(db, {
      eventId: event.id,
      pollId: results.id,
      registrantId: registrant.id,
      option,
      sessionAt: registrant.session_at,
      at: new Date(now()).toISOString(),
    });
    // The voter sees their own vote counted at once.
    await tally(event.id, results.id, results.options.length, true);
    res.status(201).json(await pollResults(event, results.id, registrant.id));
  });

  return router;
}
