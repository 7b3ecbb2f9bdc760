import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { readLinkToken } from '../automated/links.ts';
import { cancelSessionMails, queueSessionMails } from '../automated/reminders.ts';
import { isSessionStart } from '../automated/schedule.ts';
import { joinableSessions, replayDaysOf, sessionScopeId, sessionView } from '../automated/sessions.ts';
import { findEventByWebinarId, gateOf, interactionsOf, scheduleOf, type EventRow } from '../db/events.ts';
import type { RegistrantRow } from '../db/registrants.ts';
import { newId } from '../ids.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import { eraseRegistrants, findRegistrant, register, withdrawMarketing } from '../db/registrants.ts';
import { formatWebinarId, parseWebinarId } from '../ids.ts';
import { MASTER_PLAYLIST } from '../media/hls-output.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';
import { signValue, unsignValue } from '../origin/tokens.ts';
import { recordHeartbeat } from '../services/analytics.ts';
import { registrantData } from '../services/registrant-export.ts';
import { HttpError, parseOr400 } from './errors.ts';

export interface ViewerRoutesDeps {
  db: Db;
  secret: string;
  urls: PlaybackUrls;
  baseUrl: (req: Request) => string;
  /** Returns false when `key` has been used more than `limit` times in the current window. */
  rateLimit: (key: string, limit: number, windowSeconds: number) => Promise<boolean>;
  registerPerMinute: number;
  queues: JobQueues;
  reminderOffsetsSeconds: readonly number[];
  missedMailDelaySeconds: number;
  now?: () => number;
}

const ACCESS_DAYS = 90;

function cookieName(webinarId: string): string {
  return `onair_w_${webinarId}`;
}

/** The session an anonymous viewer of an automated webinar picked (registrants keep theirs in the row). */
function sessionCookieName(webinarId: string): string {
  return `onair_s_${webinarId}`;
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

const Registration = z.object({
  email: z.email('Enter a valid email address, like name@example.com').max(254),
  name: z.string().trim().max(100, 'Name must be at most 100 characters').optional(),
  company: z.string().trim().max(100, 'Company must be at most 100 characters').optional(),
  marketingConsent: z.boolean().default(false),
  noticeVersion: z.string().max(40).optional(),
  /** Automated events: the session's ISO start, or `now` for on-demand ones. */
  sessionAt: z.union([z.literal('now'), z.iso.datetime({ offset: true })]).optional(),
});

const SessionChoice = z.object({ sessionAt: z.union([z.literal('now'), z.iso.datetime({ offset: true })]) });
const Vote = z.object({ option: z.number().int().min(0).max(5) });

const Beat = z.object({
  sessionId: z.string().regex(/^[A-Za-z0-9-]{16,64}$/),
  position: z
    .number()
    .min(0)
    .max(7 * 24 * 3600),
  played: z.number().min(0).max(3600),
});

/**
 * What viewers reach without an API key: the join page, event pages, registration (the email
 * gate), playback grants, heartbeats, and the self-service data page behind a signed link.
 */
export function viewerRoutes(deps: ViewerRoutesDeps): Router {
  const { db, secret } = deps;
  const now = deps.now ?? (() => Date.now());
  const router = Router();

  async function eventFor(req: Request): Promise<EventRow> {
    const webinarId = parseWebinarId(String(req.params.webinarId));
    const event = webinarId ? await findEventByWebinarId(db, webinarId) : undefined;
    if (!event) throw new HttpError(404, 'not_found', 'Not found');
    return event;
  }

  /** The registrant this browser registered as, from its signed cookie. */
  function registrantIdFrom(req: Request, event: EventRow): string | undefined {
    const raw = readCookie(req, cookieName(event.webinar_id));
    const value = raw ? unsignValue(raw, secret) : undefined;
    const [id, expires] = value?.split('|') ?? [];
    return id && Number(expires) * 1000 > now() ? id : undefined;
  }

  /** A signed cookie scoped to the event's page. */
  function setEventCookie(
    req: Request,
    res: Response,
    event: EventRow,
    name: string,
    value: string,
    days: number,
  ) {
    res.cookie(name, signValue(value, secret), {
      httpOnly: true,
      // Embedded players live in third-party iframes: that needs SameSite=None, which needs HTTPS.
      sameSite: req.secure ? 'none' : 'lax',
      secure: req.secure,
      path: `/w/${event.webinar_id}`,
      maxAge: days * 86_400_000,
      encode: String,
    });
  }

  function grantAccess(req: Request, res: Response, event: EventRow, registrantId: string): void {
    const expires = Math.floor(now() / 1000) + ACCESS_DAYS * 86_400;
    setEventCookie(req, res, event, cookieName(event.webinar_id), `${registrantId}|${expires}`, ACCESS_DAYS);
  }

  async function viewOf(req: Request, event: EventRow, registrantId: string | undefined, pickedMs?: number) {
    if (event.type === 'automated') return automatedView(req, event, registrantId, pickedMs);
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
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    const hasAccess =
      !gate.emailRequired ||
      Boolean(registrant && registrant.event_id === event.id && !registrant.anonymised_at);
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
      const base = deps.baseUrl(req);
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
      selfServiceUrl:
        registrant && !registrant.anonymised_at
          ? `${deps.baseUrl(req)}/me/${encodeURIComponent(signValue(`me|${registrant.id}`, secret))}`
          : null,
    };
  }

  /** The session this viewer watches: their registration's, else the one they picked. */
  function chosenSession(
    req: Request,
    event: EventRow,
    registrant: RegistrantRow | undefined,
  ): number | undefined {
    if (registrant?.session_at) return Date.parse(registrant.session_at);
    const raw = readCookie(req, sessionCookieName(event.webinar_id));
    const value = raw ? unsignValue(raw, secret) : undefined;
    return value ? Number(value) * 1000 : undefined;
  }

  /**
   * Automated webinars: the viewer's session decides the page -- its waiting room before the
   * start, the stream "as if live" during it (session-scoped playback URL: the origin computes the
   * playlists from the clock), the replay after it while allowed, else "ended" with the next ones.
   */
  async function automatedView(
    req: Request,
    event: EventRow,
    registrantId: string | undefined,
    pickedMs?: number,
  ) {
    const gate = gateOf(event);
    const schedule = scheduleOf(event);
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    const hasAccess =
      !gate.emailRequired ||
      Boolean(registrant && registrant.event_id === event.id && !registrant.anonymised_at);
    const ready = asset?.status === 'ready' && asset.revision && asset.duration_seconds && schedule;
    const duration = asset?.duration_seconds ?? 0;
    const sessions = schedule && ready ? joinableSessions(schedule, duration, now(), 6) : [];
    const chosen = hasAccess ? (pickedMs ?? chosenSession(req, event, registrant)) : undefined;
    const session =
      schedule && chosen !== undefined ? sessionView(schedule, chosen, duration, now()) : undefined;
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
      const base = deps.baseUrl(req);
      const expires = deps.urls.expiresAt(session.replayUntilMs ?? undefined);
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
      registered: Boolean(registrant && hasAccess && gate.emailRequired),
      selfServiceUrl:
        registrant && !registrant.anonymised_at
          ? `${deps.baseUrl(req)}/me/${encodeURIComponent(signValue(`me|${registrant.id}`, secret))}`
          : null,
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
    if (at === undefined || !isSessionStart(schedule, at)) {
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
  async function book(
    req: Request,
    event: EventRow,
    registrant: RegistrantRow,
    startMs: number,
    durationSeconds: number,
  ) {
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
        baseUrl: deps.baseUrl(req),
        offsetsSeconds: deps.reminderOffsetsSeconds,
        replay: replayDaysOf(schedule) > 0,
        missedDelaySeconds: deps.missedMailDelaySeconds,
        confirmation: true,
      },
      now(),
    );
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
    let registrantId = registrantIdFrom(req, event);
    // A personal join link from an email (`?k=`): signs this browser in as that registrant.
    if (typeof req.query.k === 'string') {
      const fromLink = readLinkToken('join', req.query.k, secret);
      const linked = fromLink ? await findRegistrant(db, fromLink) : undefined;
      if (linked && linked.event_id === event.id && !linked.anonymised_at) {
        grantAccess(req, res, event, linked.id);
        registrantId = linked.id;
      }
    }
    res.set('Cache-Control', 'private, no-store').json(await viewOf(req, event, registrantId));
  });

  // An automated webinar's session: picked by a viewer (cookie) or moved by a registrant.
  router.post('/w/:webinarId/session', async (req, res) => {
    const event = await eventFor(req);
    if (event.type !== 'automated')
      throw new HttpError(409, 'not_automated', 'This webinar has no sessions.');
    const { sessionAt } = parseOr400(SessionChoice, req.body, 'session');
    const duration = await durationOf(event);
    const startMs = pickSession(event, sessionAt, duration);
    const registrantId = registrantIdFrom(req, event);
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    if (registrant && registrant.event_id === event.id && !registrant.anonymised_at) {
      await book(req, event, registrant, startMs, duration);
    } else {
      if (gateOf(event).emailRequired) throw new HttpError(403, 'forbidden', 'Register first.');
      setEventCookie(req, res, event, sessionCookieName(event.webinar_id), String(startMs / 1000), 30);
    }
    res.set('Cache-Control', 'no-store').json(await viewOf(req, event, registrant?.id, startMs));
  });

  router.post('/w/:webinarId/register', async (req, res) => {
    const event = await eventFor(req);
    const gate = gateOf(event);
    if (!(await deps.rateLimit(`register:${req.ip ?? 'unknown'}`, deps.registerPerMinute, 60))) {
      res.set('Retry-After', '60');
      throw new HttpError(
        429,
        'rate_limited',
        'Too many registrations from your network. Try again in a minute.',
      );
    }
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
    const registrant = await register(db, {
      eventId: event.id,
      email: body.email,
      name: gate.fields.name === 'off' ? null : body.name || null,
      company: gate.fields.company === 'off' ? null : body.company || null,
      marketingConsent: body.marketingConsent,
      noticeUrl: gate.privacyNoticeUrl,
      noticeVersion: gate.privacyNoticeVersion,
    });
    grantAccess(req, res, event, registrant.id);
    if (sessionStart !== undefined) await book(req, event, registrant, sessionStart, duration);
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json(await viewOf(req, event, registrant.id));
  });

  router.post('/w/:webinarId/heartbeat', async (req, res) => {
    const event = await eventFor(req);
    const beat = parseOr400(Beat, req.body, 'heartbeat');
    const registrantId = registrantIdFrom(req, event) ?? null;
    const registrant =
      registrantId && event.type === 'automated' ? await findRegistrant(db, registrantId) : undefined;
    const chosen = event.type === 'automated' ? chosenSession(req, event, registrant) : undefined;
    await recordHeartbeat(db, {
      ...beat,
      eventId: event.id,
      registrantId,
      sessionAt: chosen !== undefined ? new Date(chosen).toISOString() : null,
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
    const registrantId = registrantIdFrom(req, event) ?? null;
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    const chosen = chosenSession(req, event, registrant);
    await db
      .insertInto('cta_clicks')
      .values({
        id: newId('ck'),
        event_id: event.id,
        cta_id: cta.id,
        registrant_id: registrantId,
        session_at: chosen !== undefined ? new Date(chosen).toISOString() : null,
        created_at: new Date(now()).toISOString(),
      })
      .execute();
    res.status(204).end();
  });

  async function pollResults(event: EventRow, pollId: string, registrantId: string | undefined) {
    const poll = interactionsOf(event).polls.find((p) => p.id === pollId);
    if (!poll) throw new HttpError(404, 'not_found', 'No such poll.');
    const rows = await db
      .selectFrom('poll_votes')
      .select(['option_index', (eb) => eb.fn.countAll<number>().as('n')])
      .where('event_id', '=', event.id)
      .where('poll_id', '=', poll.id)
      .groupBy('option_index')
      .execute();
    const votes = poll.options.map((_, i) => Number(rows.find((r) => Number(r.option_index) === i)?.n ?? 0));
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
    res
      .set('Cache-Control', 'no-store')
      .json(await pollResults(event, String(req.params.pollId), registrantIdFrom(req, event)));
  });

  // One vote per registrant: a second vote is refused, the first one stands.
  router.post('/w/:webinarId/polls/:pollId/vote', async (req, res) => {
    const event = await eventFor(req);
    const { option } = parseOr400(Vote, req.body, 'vote');
    const registrantId = registrantIdFrom(req, event);
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    if (!registrant || registrant.event_id !== event.id || registrant.anonymised_at) {
      throw new HttpError(403, 'forbidden', 'Register for this webinar to vote.');
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
    res.status(201).json(await pollResults(event, results.id, registrant.id));
  });

  // RFC 8058 one-click unsubscribe (POST), and a page with the same button for people (GET must not act).
  router.get('/u/:token', (req, res) => {
    if (!readLinkToken('unsub', String(req.params.token), secret)) {
      throw new HttpError(404, 'not_found', 'This link is not valid.');
    }
    res
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(
        '<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Stop emails</title><main style="font-family:system-ui;max-width:32rem;margin:3rem auto"><h1>Stop emails about this webinar?</h1><form method="post"><button style="padding:10px 16px">Stop the emails</button></form></main>',
      );
  });

  router.post('/u/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const registrantId = readLinkToken('unsub', String(req.params.token), secret);
    if (!registrantId) throw new HttpError(404, 'not_found', 'This link is not valid.');
    await db.updateTable('registrants').set({ reminders_off: 1 }).where('id', '=', registrantId).execute();
    res
      .type('text')
      .set('Cache-Control', 'no-store')
      .send('Done: you will get no more emails about this webinar.');
  });

  // Self-service: a signed link per registrant, shown on the page after registering.
  async function selfService(req: Request) {
    const value = unsignValue(String(req.params.token), secret);
    const registrantId = value?.startsWith('me|') ? value.slice(3) : undefined;
    const registrant = registrantId ? await findRegistrant(db, registrantId) : undefined;
    if (!registrant) throw new HttpError(404, 'not_found', 'This link is not valid.');
    const event = await db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', registrant.event_id)
      .executeTakeFirst();
    if (!event) throw new HttpError(404, 'not_found', 'This link is not valid.');
    return { registrant, event };
  }

  router.get('/me/:token/data.:format', async (req, res) => {
    const { registrant, event } = await selfService(req);
    const data = await registrantData(db, event, registrant.id);
    if (!data) throw new HttpError(404, 'not_found', 'No data.');
    res.set('Cache-Control', 'no-store');
    if (req.params.format === 'csv') {
      res.type('text/csv; charset=utf-8').attachment('my-data.csv').send(data.csv);
    } else if (req.params.format === 'json') {
      res.attachment('my-data.json').json(data.json);
    } else throw new HttpError(404, 'not_found', 'Ask for data.csv or data.json.');
  });

  router.get('/me/:token/status.json', async (req, res) => {
    const { registrant, event } = await selfService(req);
    res.set('Cache-Control', 'no-store').json({
      event: { title: event.title, webinarId: formatWebinarId(event.webinar_id) },
      email: registrant.email,
      name: registrant.name,
      marketingConsent: registrant.marketing_consent === 1,
      erased: Boolean(registrant.anonymised_at),
    });
  });

  router.post('/me/:token/withdraw', async (req, res) => {
    const { registrant } = await selfService(req);
    await withdrawMarketing(db, registrant.id, 'self_service');
    res.status(204).end();
  });

  router.post('/me/:token/delete', async (req, res) => {
    const { registrant, event } = await selfService(req);
    await eraseRegistrants(db, [registrant.id]);
    res.clearCookie(cookieName(event.webinar_id), { path: `/w/${event.webinar_id}` });
    res.status(204).end();
  });

  return router;
}
