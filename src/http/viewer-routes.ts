import crypto from 'node:crypto';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { personalLinks, readBound, signBound } from '../automated/links.ts';
import { cancelSessionMails, queueSessionMails } from '../automated/reminders.ts';
import { isSessionStart } from '../automated/schedule.ts';
import {
  joinableSessions,
  replayDaysOf,
  SESSION_HORIZON_MS,
  sessionScopeId,
  sessionView,
} from '../automated/sessions.ts';
import { findEventByWebinarId, gateOf, interactionsOf, scheduleOf, type EventRow } from '../db/events.ts';
import type { RegistrantRow } from '../db/registrants.ts';
import { newId } from '../ids.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import { register } from '../db/registrants.ts';
import { formatWebinarId, parseWebinarId } from '../ids.ts';
import { MASTER_PLAYLIST } from '../media/hls-output.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';
import { recordHeartbeat } from '../services/analytics.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { SafeText } from './input.ts';
import { canWatch, ViewerAccess, type Viewer } from './viewer-access.ts';

export interface ViewerRoutesDeps {
  db: Db;
  secret: string;
  urls: PlaybackUrls;
  /** The configured public base URL (PUBLIC_URL, or this server's own address): never a request header. */
  baseUrl: () => string;
  /** Returns false when `key` has been used more than `limit` times in the current window. */
  rateLimit: (key: string, limit: number, windowSeconds: number) => Promise<boolean>;
  registerPerMinute: number;
  queues: JobQueues;
  reminderOffsetsSeconds: readonly number[];
  missedMailDelaySeconds: number;
  now?: () => number;
}

/** How long a viewing grant lets heartbeats in (a viewer watching longer gets a new one on reload). */
const VIEW_GRANT_SECONDS = 12 * 3600;

const SessionAt = z.union([z.literal('now'), z.iso.datetime({ offset: true })]);

const Registration = z.object({
  email: z.email('Enter a valid email address, like name@example.com').max(254),
  name: SafeText(100).optional(),
  company: SafeText(100).optional(),
  marketingConsent: z.boolean().default(false),
  noticeVersion: SafeText(40).optional(),
  /** Automated events: the session's ISO start, or `now` for on-demand ones. */
  sessionAt: SessionAt.optional(),
});

const SessionChoice = z.object({ sessionAt: SessionAt });
const Vote = z.object({ option: z.number().int().min(0).max(5) });

const Beat = z.object({
  /** The viewing grant info.json handed out with the playback URLs. */
  view: z.string().min(1).max(1024),
  position: z
    .number()
    .min(0)
    .max(7 * 24 * 3600),
  played: z.number().min(0).max(3600),
});

/**
 * What viewers reach without an API key: event pages' data, registration (the email gate),
 * playback grants, sessions, heartbeats, CTA clicks and polls. The data page and unsubscribe links
 * are in `self-service-routes.ts`; who the viewer is, in `viewer-access.ts`.
 */
export function viewerRoutes(deps: ViewerRoutesDeps): Router {
  const { db, secret } = deps;
  const now = deps.now ?? (() => Date.now());
  const access = new ViewerAccess(db, secret, now);
  const router = Router();

  async function eventFor(req: Request): Promise<EventRow> {
    const webinarId = parseWebinarId(String(req.params.webinarId));
    const event = webinarId ? await findEventByWebinarId(db, webinarId) : undefined;
    if (!event) throw new HttpError(404, 'not_found', 'Not found');
    return event;
  }

  /** The data page link, only for the browser that may act for the registrant. */
  function selfServiceUrl(event: EventRow, viewer: Viewer): string | null {
    return viewer.owner && viewer.registrant
      ? personalLinks(deps.baseUrl(), event, viewer.registrant.id, secret).selfService
      : null;
  }

  /** A signed grant for one viewing: only a viewer the page admitted can report watching. */
  function viewGrant(event: EventRow, viewer: Viewer, sessionStartMs?: number): string {
    const issued = Math.floor(now() / 1000);
    return signBound(
      'view',
      event,
      [
        crypto.randomUUID(),
        // Only the registration's own browser watches as the registrant: a browser that typed the
        // same email must not write into their record (nor spare them the no-show mail).
        (viewer.owner && viewer.registrant?.id) || '',
        sessionStartMs !== undefined ? String(sessionStartMs / 1000) : '',
        String(issued),
      ],
      secret,
      issued + VIEW_GRANT_SECONDS,
    );
  }

  async function viewOf(event: EventRow, viewer: Viewer, session?: number) {
    if (event.type === 'automated') return automatedView(event, viewer, session);
    const gate = gateOf(event);
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    const expired = Boolean(event.replay_expires_at && Date.parse(event.replay_expires_at) < now());
    const live = event.type === 'live';
    // A live event plays its growing recording only while on air; after that, the published replay.
    const onAir =
      live &&
      asset?.status !== 'ready' &&
      (event.live_status === 'live' || event.live_status === 'reconnecting');
    const revision =
      asset?.status === 'ready' ? asset.revision : !live || onAir ? asset?.preview_revision : undefined;
    const hasAccess = canWatch(event, viewer);
    const liveEnded = live && (event.live_status === 'ended' || Boolean(event.ended_at));
    const state = expired
      ? 'expired'
      : live && !hasAccess
        ? 'gated'
        : live && !revision
          ? liveEnded
            ? 'ended'
            : 'waiting'
          : !revision
            ? 'not_ready'
            : hasAccess
              ? 'playable'
              : 'gated';
    let playback = null;
    if (state === 'playable' && asset && revision) {
      const base = deps.baseUrl();
      const cap = event.replay_expires_at ? Date.parse(event.replay_expires_at) : undefined;
      const expires = deps.urls.expiresAt(cap);
      const url = (file: string) => deps.urls.url(base, 'e', event.webinar_id, revision, file, expires);
      playback = {
        master: url(MASTER_PLAYLIST),
        poster: asset.status === 'ready' && asset.has_poster ? url('poster.jpg') : null,
        storyboard: asset.status === 'ready' && asset.has_storyboard ? url('storyboard.vtt') : null,
        complete: asset.status === 'ready',
        live: onAir,
        durationSeconds: asset.duration_seconds,
        expiresAt: new Date(expires * 1000).toISOString(),
        view: viewGrant(event, viewer),
      };
    }
    return {
      webinarId: formatWebinarId(event.webinar_id),
      title: event.title,
      description: event.description,
      type: event.type,
      startsAt: event.starts_at,
      liveStatus: live ? event.live_status : null,
      gate,
      state,
      playback,
      selfServiceUrl: selfServiceUrl(event, viewer),
    };
  }

  /**
   * Automated webinars: the viewer's session decides the page -- its waiting room before the
   * start, the stream "as if live" during it (session-scoped playback URL: the origin computes the
   * playlists from the clock), the replay after it while allowed, else "ended" with the next ones.
   */
  async function automatedView(event: EventRow, viewer: Viewer, chosen: number | undefined) {
    const gate = gateOf(event);
    const schedule = scheduleOf(event);
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    const hasAccess = canWatch(event, viewer);
    const ready = asset?.status === 'ready' && asset.revision && asset.duration_seconds && schedule;
    const duration = asset?.duration_seconds ?? 0;
    const sessions = schedule && ready ? joinableSessions(schedule, duration, now(), 6) : [];
    const session =
      schedule && hasAccess && chosen !== undefined
        ? sessionView(schedule, chosen, duration, now())
        : undefined;
    const expired = Boolean(event.replay_expires_at && Date.parse(event.replay_expires_at) < now());
    const state = expired
      ? 'expired'
      : !ready
        ? 'not_ready'
        : !hasAccess
          ? 'gated'
          : !session
            ? 'choose'
            : session.state === 'upcoming'
              ? 'waiting'
              : session.state === 'ended'
                ? 'ended'
                : 'playable';
    let playback = null;
    if (state === 'playable' && session && asset?.revision) {
      const base = deps.baseUrl();
      const caps = [
        session.replayUntilMs,
        event.replay_expires_at ? Date.parse(event.replay_expires_at) : null,
      ];
      const cap = caps.filter((c): c is number => typeof c === 'number' && Number.isFinite(c));
      const expires = deps.urls.expiresAt(cap.length > 0 ? Math.min(...cap) : undefined);
      const scope = sessionScopeId(event.webinar_id, session.startMs);
      playback = {
        master: deps.urls.url(base, 'e', scope, asset.revision, MASTER_PLAYLIST, expires),
        poster: asset.has_poster
          ? deps.urls.url(base, 'e', scope, asset.revision, 'poster.jpg', expires)
          : null,
        storyboard: null,
        complete: session.state === 'replay',
        live: session.state === 'live',
        durationSeconds: duration,
        expiresAt: new Date(expires * 1000).toISOString(),
        view: viewGrant(event, viewer, session.startMs),
      };
    }
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      webinarId: formatWebinarId(event.webinar_id),
      title: event.title,
      description: event.description,
      type: event.type,
      startsAt: session ? iso(session.startMs) : sessions[0] ? iso(sessions[0].startMs) : event.starts_at,
      liveStatus: null,
      gate,
      state,
      playback,
      schedule: schedule ? { kind: schedule.kind, timezone: schedule.timezone } : null,
      session: session
        ? {
            startsAt: iso(session.startMs),
            endsAt: iso(session.endMs),
            state: session.state,
            replayUntil: session.replayUntilMs ? iso(session.replayUntilMs) : null,
          }
        : null,
      sessions: sessions.map((s) => ({ startsAt: iso(s.startMs), state: s.state })),
      registered: Boolean(viewer.registrant && gate.emailRequired),
      selfServiceUrl: selfServiceUrl(event, viewer),
    };
  }

  /** Validates a requested session of an automated event; returns its start (ms). */
  function pickSession(event: EventRow, requested: string | undefined, durationSeconds: number): number {
    const schedule = scheduleOf(event);
    if (!schedule) throw new HttpError(409, 'not_automated', 'This webinar has no sessions.');
    if (schedule.kind === 'on_demand' || requested === 'now') {
      if (schedule.kind !== 'on_demand') {
        throw new HttpError(400, 'invalid_request', 'Pick one of the listed sessions.');
      }
      return Math.floor(now() / 1000) * 1000;
    }
    const at = requested
      ? Date.parse(requested)
      : joinableSessions(schedule, durationSeconds, now(), 1)[0]?.startMs;
    // Sessions are listed (and booked) at most SESSION_HORIZON_MS ahead.
    if (at === undefined || at > now() + SESSION_HORIZON_MS || !isSessionStart(schedule, at)) {
      throw new HttpError(
        400,
        'invalid_request',
        'That session does not exist: pick one of the listed sessions.',
        [{ field: 'sessionAt', message: 'Pick one of the listed sessions' }],
      );
    }
    const view = sessionView(schedule, at, durationSeconds, now());
    if (view.state !== 'upcoming' && view.state !== 'live') {
      throw new HttpError(400, 'invalid_request', 'That session is over: pick another one.', [
        { field: 'sessionAt', message: 'That session is over' },
      ]);
    }
    return at;
  }

  /** Books a registrant on a session: their old session's pending mails go, the new ones are queued. */
  async function book(event: EventRow, registrant: RegistrantRow, startMs: number, durationSeconds: number) {
    const sessionAt = new Date(startMs).toISOString();
    if (registrant.session_at === sessionAt) return;
    if (registrant.session_at) {
      await cancelSessionMails(
        deps.queues,
        registrant.id,
        registrant.session_at,
        deps.reminderOffsetsSeconds,
      );
    }
    await db
      .updateTable('registrants')
      .set({ session_at: sessionAt })
      .where('id', '=', registrant.id)
      .execute();
    const schedule = scheduleOf(event)!;
    if (!registrant.email) return;
    await queueSessionMails(
      deps.queues,
      {
        registrantId: registrant.id,
        sessionStartMs: startMs,
        sessionEndMs: startMs + durationSeconds * 1000,
        baseUrl: deps.baseUrl(),
        offsetsSeconds: deps.reminderOffsetsSeconds,
        replay: replayDaysOf(schedule) > 0,
        missedDelaySeconds: deps.missedMailDelaySeconds,
        confirmation: true,
      },
      now(),
    );
  }

  /**
   * The registrant's personal links go to their mailbox: on registering for a live or on-demand
   * webinar (automated ones send their confirmation), and whenever the address is typed again in
   * another browser, which then watches but may act for them only through that link. At most one
   * such "again" mail an hour per registrant, whoever keeps typing the address.
   */
  async function mailAccessLink(event: EventRow, registrantId: string, created: boolean) {
    if (created && event.type === 'automated') return;
    const reason = created ? 'registered' : 'again';
    const jobId = created
      ? `access-registered-${registrantId}`
      : `access-again-${registrantId}-${Math.floor(now() / 3_600_000)}`;
    await deps.queues.add('send-access-link', { registrantId, reason, baseUrl: deps.baseUrl() }, jobId);
  }

  async function durationOf(event: EventRow): Promise<number> {
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    if (asset?.status !== 'ready' || !asset.duration_seconds) {
      throw new HttpError(409, 'not_ready', 'This webinar is not available yet.');
    }
    return asset.duration_seconds;
  }

  router.get('/w/:webinarId/info.json', async (req, res) => {
    const event = await eventFor(req);
    let viewer = await access.viewerOf(req, event);
    // A personal join link from an email (`?k=`): proof of the mailbox, so this browser becomes
    // the registrant's own.
    if (typeof req.query.k === 'string') {
      const fields = readBound('join', req.query.k, event, secret, Math.floor(now() / 1000));
      const linked = fields?.[0] ? await access.viewerFor(event, fields[0], true) : undefined;
      if (linked?.registrant) {
        access.grant(req, res, event, linked.registrant.id, true);
        viewer = linked;
      }
    }
    const session = event.type === 'automated' ? access.chosenSession(req, event, viewer) : undefined;
    res.set('Cache-Control', 'private, no-store').json(await viewOf(event, viewer, session));
  });

  // An automated webinar's session: picked by a viewer (cookie) or moved by its registrant.
  router.post('/w/:webinarId/session', async (req, res) => {
    const event = await eventFor(req);
    if (event.type !== 'automated')
      throw new HttpError(409, 'not_automated', 'This webinar has no sessions.');
    const { sessionAt } = parseOr400(SessionChoice, req.body, 'session');
    const duration = await durationOf(event);
    const startMs = pickSession(event, sessionAt, duration);
    const viewer = await access.viewerOf(req, event);
    if (!canWatch(event, viewer)) throw new HttpError(403, 'forbidden', 'Register first.');
    // Only the registration's own browser moves its booking (and its reminder mails).
    if (viewer.owner && viewer.registrant) await book(event, viewer.registrant, startMs, duration);
    else access.pickSession(req, res, event, startMs);
    res.set('Cache-Control', 'no-store').json(await viewOf(event, viewer, startMs));
  });

  router.post('/w/:webinarId/register', async (req, res) => {
    const event = await eventFor(req);
    const gate = gateOf(event);
    const body = parseOr400(Registration, req.body, 'registration');
    const problems: { field: string; message: string }[] = [];
    for (const field of ['name', 'company'] as const) {
      if (gate.fields[field] === 'required' && !body[field]) {
        problems.push({ field, message: `${field === 'name' ? 'Name' : 'Company'} is required` });
      }
    }
    if (gate.privacyNoticeVersion && body.noticeVersion !== gate.privacyNoticeVersion) {
      problems.push({
        field: 'noticeVersion',
        message: 'The privacy notice has changed: reload the page to read it',
      });
    }
    if (problems.length > 0) {
      throw new HttpError(400, 'invalid_request', problems[0]!.message, problems);
    }
    const duration = event.type === 'automated' ? await durationOf(event) : 0;
    const sessionStart =
      event.type === 'automated' ? pickSession(event, body.sessionAt, duration) : undefined;
    if (!(await deps.rateLimit(`register:${req.ip ?? 'unknown'}`, deps.registerPerMinute, 60))) {
      res.set('Retry-After', '60');
      throw new HttpError(
        429,
        'rate_limited',
        'Too many registrations from your network. Try again in a minute.',
      );
    }
    const { registrant, created } = await register(db, {
      eventId: event.id,
      email: body.email,
      name: gate.fields.name === 'off' ? null : body.name || null,
      company: gate.fields.company === 'off' ? null : body.company || null,
      marketingConsent: body.marketingConsent,
      noticeUrl: gate.privacyNoticeUrl,
      noticeVersion: gate.privacyNoticeVersion,
    });
    // The gate captures leads, it is not a login: typing a known address lets this browser watch,
    // but it never becomes that person's (their data, consent, booking stay theirs).
    access.grant(req, res, event, registrant.id, created);
    const viewer: Viewer = { registrant, owner: created };
    await mailAccessLink(event, registrant.id, created);
    if (sessionStart !== undefined) {
      if (created) await book(event, registrant, sessionStart, duration);
      else access.pickSession(req, res, event, sessionStart);
    }
    res
      // The same answer whether or not the address was known (only the page's own link differs).
      .status(201)
      .set('Cache-Control', 'no-store')
      .json(await viewOf(event, viewer, sessionStart));
  });

  router.post('/w/:webinarId/heartbeat', async (req, res) => {
    const event = await eventFor(req);
    const beat = parseOr400(Beat, req.body, 'heartbeat');
    const fields = readBound('view', beat.view, event, secret, Math.floor(now() / 1000));
    const [viewId, registrantId, sessionSeconds, issued] = fields ?? [];
    if (!viewId || !issued) {
      throw new HttpError(403, 'forbidden', 'This viewing was not started by the event page: reload it.');
    }
    const registrant = registrantId
      ? (await access.viewerFor(event, registrantId, false)).registrant
      : undefined;
    // Restricted (GDPR art. 18) or erased since: their viewing is not used for analytics.
    if (registrantId && (!registrant || registrant.restricted_at)) return void res.status(204).end();
    // No further than the recording goes (a live recording's length is not known yet).
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    const position = Math.min(beat.position, asset?.duration_seconds ?? beat.position);
    await recordHeartbeat(db, {
      sessionId: viewId,
      eventId: event.id,
      registrantId: registrant?.id ?? null,
      position,
      played: beat.played,
      startedAtMs: Number(issued) * 1000,
      nowMs: now(),
      sessionAt: sessionSeconds ? new Date(Number(sessionSeconds) * 1000).toISOString() : null,
    });
    res.status(204).end();
  });

  router.post('/w/:webinarId/cta/:ctaId/click', async (req, res) => {
    const event = await eventFor(req);
    const cta = interactionsOf(event).ctas.find((c) => c.id === req.params.ctaId);
    if (!cta) throw new HttpError(404, 'not_found', 'No such call-to-action.');
    // Clicks feed the marketer's analytics: a script hammering the endpoint must not inflate them.
    if (!(await deps.rateLimit(`cta:${req.ip ?? 'unknown'}`, 30, 60))) {
      res.set('Retry-After', '60');
      throw new HttpError(429, 'rate_limited', 'Too many clicks. Try again in a minute.');
    }
    const viewer = await access.viewerOf(req, event);
    if (!canWatch(event, viewer)) throw new HttpError(403, 'forbidden', 'Register for this webinar first.');
    const registrant = viewer.owner && !viewer.registrant?.restricted_at ? viewer.registrant : undefined;
    const chosen = access.chosenSession(req, event, viewer);
    await db
      .insertInto('cta_clicks')
      .values({
        id: newId('ck'),
        event_id: event.id,
        cta_id: cta.id,
        registrant_id: registrant?.id ?? null,
        session_at: chosen !== undefined ? new Date(chosen).toISOString() : null,
        created_at: new Date(now()).toISOString(),
      })
      .execute();
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
    const rows = await db
      .selectFrom('poll_votes')
      .select(['option_index', (eb) => eb.fn.countAll<number>().as('n')])
      .where('event_id', '=', eventId)
      .where('poll_id', '=', pollId)
      .groupBy('option_index')
      .execute();
    const votes = Array.from({ length: options }, (_, i) =>
      Number(rows.find((r) => Number(r.option_index) === i)?.n ?? 0),
    );
    if (tallies.size > 10_000) tallies.clear();
    tallies.set(key, { at: now(), votes });
    return votes;
  }

  async function pollResults(event: EventRow, pollId: string, registrantId: string | undefined) {
    const poll = interactionsOf(event).polls.find((p) => p.id === pollId);
    if (!poll) throw new HttpError(404, 'not_found', 'No such poll.');
    const votes = await tally(event.id, poll.id, poll.options.length);
    const mine = registrantId
      ? await db
          .selectFrom('poll_votes')
          .select('option_index')
          .where('event_id', '=', event.id)
          .where('poll_id', '=', poll.id)
          .where('registrant_id', '=', registrantId)
          .executeTakeFirst()
      : undefined;
    return {
      id: poll.id,
      question: poll.question,
      options: poll.options,
      votes,
      yourVote: mine ? Number(mine.option_index) : null,
    };
  }

  router.get('/w/:webinarId/polls/:pollId', async (req, res) => {
    const event = await eventFor(req);
    const viewer = await access.viewerOf(req, event);
    if (!canWatch(event, viewer)) throw new HttpError(403, 'forbidden', 'Register for this webinar first.');
    res
      .set('Cache-Control', 'no-store')
      .json(
        await pollResults(event, String(req.params.pollId), viewer.owner ? viewer.registrant?.id : undefined),
      );
  });

  // One vote per registrant, cast by the registration's own browser: the first vote stands.
  router.post('/w/:webinarId/polls/:pollId/vote', async (req, res) => {
    const event = await eventFor(req);
    const { option } = parseOr400(Vote, req.body, 'vote');
    const { registrant, owner } = await access.viewerOf(req, event);
    if (!registrant) throw new HttpError(403, 'forbidden', 'Register for this webinar to vote.');
    if (!owner) {
      throw new HttpError(
        403,
        'forbidden',
        'Votes are cast from the browser you registered with, or from the link in your confirmation email.',
      );
    }
    const results = await pollResults(event, String(req.params.pollId), registrant.id);
    if (option >= results.options.length) throw new HttpError(400, 'invalid_request', 'No such option.');
    if (results.yourVote !== null)
      throw new HttpError(409, 'already_voted', 'You have already voted in this poll.');
    await db
      .insertInto('poll_votes')
      .values({
        event_id: event.id,
        poll_id: results.id,
        registrant_id: registrant.id,
        option_index: option,
        session_at: registrant.session_at,
        created_at: new Date(now()).toISOString(),
      })
      .onConflict((oc) => oc.columns(['event_id', 'poll_id', 'registrant_id']).doNothing())
      .execute();
    // The voter sees their own vote counted at once.
    await tally(event.id, results.id, results.options.length, true);
    res.status(201).json(await pollResults(event, results.id, registrant.id));
  });

  return router;
}
