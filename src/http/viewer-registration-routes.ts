import { Router } from 'express';
import { z } from 'zod';
import { cancelSessionMails, queueSessionMails } from '../automated/reminders.ts';
import { isSessionStart, isValidTimeZone } from '../automated/schedule.ts';
import { joinableSessions, replayDaysOf, SESSION_HORIZON_MS, sessionView } from '../automated/sessions.ts';
import { findAsset } from '../db/assets.ts';
import { gateOf, scheduleOf, type EventRow } from '../db/events.ts';
import { bookSession, register, type RegistrantRow } from '../db/registrants.ts';
import { en } from '../i18n/catalogues/en.ts';
import { negotiateLanguage } from '../i18n/languages.ts';
import type { ServerTranslator } from '../i18n/messages.ts';
import { HttpError, parseOr400, validationError } from './errors.ts';
import { SafeText } from './input.ts';
import { requireWatch, type Viewer } from './viewer-access.ts';
import type { ViewerContext } from './viewer-context.ts';
import { viewerTranslator } from './viewer-language.ts';

const SessionAt = z.union([z.literal('now'), z.iso.datetime({ offset: true })]);

const Registration = z.object({
  email: z.email(en['errors.email']).max(254),
  name: SafeText(100).optional(),
  company: SafeText(100).optional(),
  marketingConsent: z.boolean().default(false),
  noticeVersion: SafeText(40).optional(),
  /** Automated events: the session's ISO start, or `now` for on-demand ones. */
  sessionAt: SessionAt.optional(),
  /**
   * The browser's IANA zone (`Intl.DateTimeFormat().resolvedOptions().timeZone`): times in this
   * registrant's emails are shown in it. One the server does not know is ignored, not refused.
   */
  timeZone: z.string().max(64).optional(),
});

/** The zone's canonical name if this runtime knows it, else undefined. */
function knownTimeZone(zone: string | undefined): string | undefined {
  if (!zone || !/^[A-Za-z0-9_+\-/]+$/.test(zone) || !isValidTimeZone(zone)) return undefined;
  return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
}

/**
 * An invalid registration, with the form's field messages in the viewer's language (in English,
 * the API's usual `Invalid registration: <field> <problem>`).
 */
function registrationError(error: z.ZodError, text: ServerTranslator): HttpError {
  const english = validationError(error, 'registration');
  if (text.language === 'en') return english;
  const details = error.issues.map((i) => {
    const field = i.path.join('.') || 'registration';
    return { field, message: field === 'email' ? text.t('errors.email') : i.message };
  });
  const first = details[0];
  return new HttpError(
    400,
    'invalid_request',
    first?.field === 'email' ? first.message : english.message,
    details,
  );
}

const SessionChoice = z.object({ sessionAt: SessionAt });

/**
 * Registration (the email gate) and booking an automated webinar's session: who the viewer is
 * for this event, and which session they hold, with the mails that go with both.
 */
export function registrationRoutes(ctx: ViewerContext): Router {
  const { db, deps, access, now } = ctx;
  const router = Router();

  async function durationOf(event: EventRow, { t }: ServerTranslator): Promise<number> {
    const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
    if (asset?.status !== 'ready' || !asset.duration_seconds) {
      throw new HttpError(409, 'not_ready', t('errors.notReady'));
    }
    return asset.duration_seconds;
  }

  /** Validates a requested session of an automated event; returns its start (ms). */
  function pickSession(
    event: EventRow,
    requested: string | undefined,
    durationSeconds: number,
    { t }: ServerTranslator,
  ): number {
    const schedule = scheduleOf(event);
    if (!schedule) throw new HttpError(409, 'not_automated', t('errors.noSessions'));
    if (schedule.kind === 'on_demand' || requested === 'now') {
      if (schedule.kind !== 'on_demand') {
        throw new HttpError(400, 'invalid_request', t('errors.pickListed'));
      }
      return Math.floor(now() / 1000) * 1000;
    }
    const at = requested
      ? Date.parse(requested)
      : joinableSessions(schedule, durationSeconds, now(), 1)[0]?.startMs;
    // Sessions are listed (and booked) at most SESSION_HORIZON_MS ahead.
    if (at === undefined || at > now() + SESSION_HORIZON_MS || !isSessionStart(schedule, at)) {
      throw new HttpError(400, 'invalid_request', t('errors.noSuchSession'), [
        { field: 'sessionAt', message: t('errors.noSuchSessionField') },
      ]);
    }
    const view = sessionView(schedule, at, durationSeconds, now());
    if (view.state !== 'upcoming' && view.state !== 'live') {
      throw new HttpError(400, 'invalid_request', t('errors.sessionOver'), [
        { field: 'sessionAt', message: t('errors.sessionOverField') },
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
    await bookSession(db, registrant.id, sessionAt);
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

  // An automated webinar's session: picked by a viewer (cookie) or moved by its registrant.
  router.post('/w/:webinarId/session', async (req, res) => {
    const event = await ctx.eventFor(req);
    const text = viewerTranslator(req, event);
    if (event.type !== 'automated') throw new HttpError(409, 'not_automated', text.t('errors.noSessions'));
    const { sessionAt } = parseOr400(SessionChoice, req.body, 'session');
    const duration = await durationOf(event, text);
    const startMs = pickSession(event, sessionAt, duration, text);
    const viewer = await access.viewerOf(req, event);
    requireWatch(event, viewer, text.t('errors.registerFirst'));
    // Only the registration's own browser moves its booking (and its reminder mails).
    if (viewer.owner && viewer.registrant) await book(event, viewer.registrant, startMs, duration);
    else access.pickSession(req, res, event, startMs);
    res.set('Cache-Control', 'no-store').json(await ctx.page(event, viewer, startMs, text.language));
  });

  router.post('/w/:webinarId/register', async (req, res) => {
    const event = await ctx.eventFor(req);
    const text = viewerTranslator(req, event);
    const { t } = text;
    const gate = gateOf(event);
    const parsed = Registration.safeParse(req.body);
    if (!parsed.success) throw registrationError(parsed.error, text);
    const body = parsed.data;
    const problems: { field: string; message: string }[] = [];
    for (const field of ['name', 'company'] as const) {
      if (gate.fields[field] === 'required' && !body[field]) {
        problems.push({
          field,
          message: t(field === 'name' ? 'errors.nameRequired' : 'errors.companyRequired'),
        });
      }
    }
    if (gate.privacyNoticeVersion && body.noticeVersion !== gate.privacyNoticeVersion) {
      problems.push({ field: 'noticeVersion', message: t('errors.noticeChanged') });
    }
    if (problems.length > 0) {
      throw new HttpError(400, 'invalid_request', problems[0]!.message, problems);
    }
    const duration = event.type === 'automated' ? await durationOf(event, text) : 0;
    const sessionStart =
      event.type === 'automated' ? pickSession(event, body.sessionAt, duration, text) : undefined;
    if (!(await deps.rateLimit(`register:${req.ip ?? 'unknown'}`, deps.registerPerMinute, 60))) {
      res.set('Retry-After', '60');
      throw new HttpError(429, 'rate_limited', t('errors.tooManyRegistrations'));
    }
    const { registrant, created } = await register(db, {
      eventId: event.id,
      email: body.email,
      name: gate.fields.name === 'off' ? null : body.name || null,
      company: gate.fields.company === 'off' ? null : body.company || null,
      marketingConsent: body.marketingConsent,
      noticeUrl: gate.privacyNoticeUrl,
      noticeVersion: gate.privacyNoticeVersion,
      // What the browser had: the emails of an `auto` event are in its language, at its time.
      language: req.get('accept-language') ? negotiateLanguage(req.get('accept-language')) : null,
      timeZone: knownTimeZone(body.timeZone) ?? null,
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
      .json(await ctx.page(event, viewer, sessionStart, text.language));
  });

  return router;
}
