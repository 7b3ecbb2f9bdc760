import { Router, type Request } from 'express';
import { z } from 'zod';
import { InteractionsSchema } from '../automated/interactions.ts';
import { cancelSessionMails, queueSessionMails } from '../automated/reminders.ts';
import { isSessionStart, sessionStarts, type Schedule } from '../automated/schedule.ts';
import { ScheduleSchema } from '../automated/schedule-schema.ts';
import { replayDaysOf, SESSION_HORIZON_MS, sessionView } from '../automated/sessions.ts';
import { countAttendeesBySession, countViewingsSince } from '../db/analytics.ts';
import { findAccountAsset, findAsset } from '../db/assets.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import { eraseOverwritten, type Db } from '../db/database.ts';
import {
  deleteEvent,
  findAccountEvent,
  gateOf,
  insertEvent,
  interactionsOf,
  scheduleOf,
  listAccountEvents,
  OPEN_GATE,
  updateEvent,
  type EventRow,
  type GateSettings,
} from '../db/events.ts';
import { countCtaClicks, countPollVotes } from '../db/interactions.ts';
import {
  bookSession,
  countRegistrantsBySession,
  eraseRegistrants,
  findRegistrant,
  listFutureBookings,
  listRegistrantsWithStats,
  rectifyRegistrant,
  restrictRegistrant,
  type RegistrantStats,
} from '../db/registrants.ts';
import type { Redis } from 'ioredis';
import { formatWebinarId, newStreamKey } from '../ids.ts';
import { currentPublisher, FALLING_BEHIND_SPEED, readHealth } from '../live/live-state.ts';
import { PRESENTER_LINK_DAYS, presenterLink, signPresenterToken } from '../live/presenter-links.ts';
import { eventAnalytics } from '../services/analytics.ts';
import { analyticsSeries } from '../services/analytics-series.ts';
import { registrantsCsv } from '../services/registrant-export.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { srtUrlFor, type IngestView } from './ingest-urls.ts';
import { HttpUrl, SafeText } from './input.ts';
import { LANGUAGE_SETTINGS } from '../i18n/languages.ts';

const FieldRule = z.enum(['off', 'optional', 'required']);
const Gate = z
  .object({
    emailRequired: z.boolean().default(true),
    fields: z
      .object({ name: FieldRule.default('off'), company: FieldRule.default('off') })
      .strict()
      .default({ name: 'off', company: 'off' }),
    privacyNoticeUrl: HttpUrl.nullable().default(null),
    privacyNoticeVersion: SafeText(40).pipe(z.string().min(1)).nullable().default(null),
  })
  .strict()
  .refine((g) => !g.emailRequired || (g.privacyNoticeUrl && g.privacyNoticeVersion), {
    message:
      'an email gate needs privacyNoticeUrl and privacyNoticeVersion (viewers must see what they agree to)',
  });

/** Every field of an event as the API takes it, with no defaults: PATCH changes only what it names. */
const EventFields = {
  schedule: ScheduleSchema,
  interactions: InteractionsSchema,
  title: SafeText(200).pipe(z.string().min(1, 'must not be empty')),
  description: SafeText(5000),
  type: z.enum(['on_demand', 'live', 'automated']),
  assetId: z.string().max(64).nullable(),
  startsAt: z.iso.datetime({ offset: true }),
  gate: Gate.nullable(),
  replayExpiresAt: z.iso.datetime({ offset: true }).nullable(),
  /** Live events: LL-HLS parts (when LIVE_LOW_LATENCY is on); off for CDNs without blocking reloads. */
  lowLatency: z.boolean(),
  /** Live events: SRT encoders must encrypt (AES) with the event's passphrase, shown with the SRT URL. */
  srtEncryption: z.boolean(),
  /** Viewer pages, emails and invites: one language for everyone, or `auto` (each viewer's browser). */
  language: z.enum(LANGUAGE_SETTINGS, { error: `must be one of ${LANGUAGE_SETTINGS.join(', ')}` }),
};

const EventBody = z.object({
  ...EventFields,
  schedule: EventFields.schedule.optional(),
  interactions: EventFields.interactions.optional(),
  description: EventFields.description.default(''),
  assetId: EventFields.assetId.default(null),
  startsAt: EventFields.startsAt.optional(),
  gate: EventFields.gate.default(null),
  replayExpiresAt: EventFields.replayExpiresAt.default(null),
  // No default here: on a live event it defaults to true, on any other it is refused.
  lowLatency: EventFields.lowLatency.optional(),
  srtEncryption: EventFields.srtEncryption.optional(),
  language: EventFields.language.default('auto'),
});
const EventPatch = z
  .object({
    ...EventFields,
    ended: z.boolean(),
    streamKeyDisabled: z.boolean(),
  })
  .partial()
  // A misspelt field must not be a silent no-op.
  .strict();
const RegistrantPatch = z
  .object({
    name: SafeText(100).nullable(),
    company: SafeText(100).nullable(),
    restricted: z.boolean(),
  })
  .partial()
  .strict();
const SessionsQuery = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(2000).default(500),
  })
  .strict();
/** A schedule exactly as PATCH would save it, and how many of its next sessions to list. */
const SchedulePreview = z
  .object({ schedule: ScheduleSchema, count: z.number().int().min(1).max(20).default(8) })
  .strict();
const EventId = z.string().regex(/^ev_[A-Za-z0-9]{16}$/, 'is not an event id');
const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  // Bounded: a deep OFFSET makes the database walk every row before the page.
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
});
const PresenterLinkBody = z
  .object({
    days: z
      .number()
      .int()
      .min(PRESENTER_LINK_DAYS.min)
      .max(PRESENTER_LINK_DAYS.max)
      .default(PRESENTER_LINK_DAYS.default),
  })
  .strict();
/** Registrants whose email, name or company contains `q` (case-insensitive; `%` and `_` literal). */
const RegistrantsQuery = Paging.extend({
  q: z.string().max(100, 'must be at most 100 characters').optional(),
});

export interface EventRoutesDeps {
  db: Db;
  redis: Redis;
  queues: JobQueues;
  /** Reminder offsets (seconds) for registrants moved to another session. */
  reminderOffsetsSeconds: readonly number[];
  missedMailDelaySeconds: number;
  /** Public base URL, from configuration (never the request). */
  baseUrl: () => string;
  /** Where presenters send their stream (RTMP, SRT, WHIP). */
  ingest: IngestView;
  /** LIVE_SEGMENT_SECONDS: the keyframe interval presenters are asked for. */
  liveSegmentSeconds: number;
  /** Signs presenter links. */
  secret: string;
}

/**
 * What we tell presenters to set in OBS (Settings > Output, Advanced; Settings > Audio). Keyframes
 * as often as live segments are cut let onair copy the top rung instead of encoding it
 * (`pipelines/keyframe-cadence.ts`); OBS takes whole seconds.
 */
export const obsSettings = (liveSegmentSeconds: number) => ({
  encoder: 'x264 (or a hardware H.264 encoder)',
  rateControl: 'CBR',
  bitrateKbps: 4500,
  keyframeIntervalSeconds: Math.max(1, Math.round(liveSegmentSeconds)),
  profile: 'high',
  tune: 'zerolatency',
  audio: 'AAC, 48 kHz, 160 kbit/s',
  resolution: '1920x1080 or 1280x720, 30 fps',
});

export function eventView(row: EventRow, baseUrl: string, ingest?: IngestView, liveSegmentSeconds = 1) {
  const srt = ingest?.srt();
  const passphrase =
    row.srt_encrypted && row.stream_key && ingest ? ingest.srtPassphrase(row.id, row.stream_key) : null;
  const gate: GateSettings = gateOf(row);
  const pageUrl = `${baseUrl}/w/${row.webinar_id}`;
  return {
    id: row.id,
    webinarId: formatWebinarId(row.webinar_id),
    title: row.title,
    description: row.description,
    type: row.type,
    assetId: row.asset_id,
    startsAt: row.starts_at,
    gate,
    replayExpiresAt: row.replay_expires_at,
    endedAt: row.ended_at,
    language: row.language,
    pageUrl,
    ...(row.type === 'automated'
      ? { schedule: scheduleOf(row) ?? null, interactions: interactionsOf(row) }
      : {}),
    ...(row.type === 'live'
      ? {
          live: {
            status: row.live_status,
            startedAt: row.live_started_at,
            rtmpUrl: ingest?.rtmp() ?? null,
            srtUrl: srt && row.stream_key ? srtUrlFor(srt, row.stream_key, passphrase) : null,
            srtEncryption: row.srt_encrypted === 1,
            srtPassphrase: passphrase,
            whipUrl: ingest?.whip() ?? null,
            presenterPageUrl: `${baseUrl}/present/${row.id}`,
            streamKey: row.stream_key,
            streamKeyDisabled: row.stream_key_disabled === 1,
            lowLatency: row.low_latency !== 0,
            obsSettings: obsSettings(liveSegmentSeconds),
          },
        }
      : {}),
    embedHtml: `<iframe src="${pageUrl}?embed=1" title="${row.title.replace(/[<>&"]/g, '')}" width="960" height="600" style="border:0;max-width:100%" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * What the presenter page reads of an event, and all a presenter link shows (no gate, no schedule,
 * no other ingest URLs): the same URLs as `eventView`, from it.
 */
export function presenterView(view: ReturnType<typeof eventView>) {
  const { live } = view;
  return {
    id: view.id,
    title: view.title,
    webinarId: view.webinarId,
    pageUrl: view.pageUrl,
    type: view.type,
    live: live
      ? {
          status: live.status,
          whipUrl: live.whipUrl,
          streamKey: live.streamKey,
          streamKeyDisabled: live.streamKeyDisabled,
        }
      : null,
  };
}

/**
 * A live event's health as its presenter sees it: `GET /api/events/:id/live`, and the part a
 * presenter link reads (`GET /api/present/:id/live`).
 */
export async function liveHealthView(db: Db, redis: Redis, row: EventRow) {
  const health = await readHealth(redis, row.id);
  const since = new Date(Date.now() - 30_000).toISOString();
  const viewersNow = await countViewingsSince(db, row.id, since);
  const publisher = await currentPublisher(redis, row.id);
  return {
    status: row.live_status,
    startedAt: row.live_started_at,
    /** How the presenter is publishing now (rtmp, srt, whip), or null. */
    protocol: publisher ? (publisher.protocol ?? 'rtmp') : null,
    viewersNow,
    inputBitrate: health?.inputBitrate ?? null,
    fps: health?.fps ?? null,
    speed: health?.speed ?? null,
    fallingBehind: health?.speed != null && health.speed < FALLING_BEHIND_SPEED,
    droppedFrames: health?.droppedFrames ?? 0,
    droppedSeconds: health?.droppedSeconds ?? 0,
    droppedSegments: health?.droppedSegments ?? 0,
    periods: health?.periods ?? 0,
    passthrough: health?.passthrough ?? false,
    renditions: health?.renditions ?? [],
    keyframeSeconds: health?.keyframeSeconds ?? null,
    keyframeAdvice: health?.keyframeAdvice ?? null,
    updatedAt: health?.updatedAt ?? null,
  };
}

function refuseLiveOnly(field: 'lowLatency' | 'srtEncryption'): never {
  throw new HttpError(400, 'invalid_request', `Invalid body: ${field} applies to live events only`);
}

function registrantView(r: RegistrantStats) {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    company: r.company,
    // Restricted registrants are kept out of marketing, whatever they once agreed to.
    marketingConsent: r.marketing_consent === 1 && !r.restricted_at,
    restricted: Boolean(r.restricted_at),
    registeredAt: r.created_at,
    anonymisedAt: r.anonymised_at,
    secondsWatched: Math.round(r.seconds_watched),
    furthestPosition: Math.round(r.furthest_position),
  };
}

export function eventRoutes(deps: EventRoutesDeps): Router {
  const { db } = deps;
  const router = Router();
  const view = (row: EventRow) => eventView(row, deps.baseUrl(), deps.ingest, deps.liveSegmentSeconds);

  async function ownAsset(accountId: string, assetId: string | null): Promise<void> {
    if (assetId && !(await findAccountAsset(db, accountId, assetId))) {
      throw new HttpError(
        400,
        'invalid_request',
        `Invalid body: assetId ${assetId} is not an asset of this account`,
      );
    }
  }

  async function ownEvent(req: Request, accountId: string): Promise<EventRow> {
    const id = parseOr400(EventId, req.params.id, 'event id');
    const row = await findAccountEvent(db, accountId, id);
    if (!row) throw new HttpError(404, 'not_found', `No event ${id} in this account.`);
    return row;
  }

  router.post('/', async (req, res) => {
    const body = parseOr400(EventBody, req.body, 'body');
    const account = accountOf(res);
    if (body.type !== 'live' && !body.assetId) {
      throw new HttpError(
        400,
        'invalid_request',
        `Invalid body: assetId is required for ${body.type} events`,
      );
    }
    if (body.type === 'automated' && !body.schedule) {
      throw new HttpError(400, 'invalid_request', 'Invalid body: schedule is required for automated events');
    }
    if (body.lowLatency !== undefined && body.type !== 'live') refuseLiveOnly('lowLatency');
    if (body.srtEncryption !== undefined && body.type !== 'live') refuseLiveOnly('srtEncryption');
    await ownAsset(account.id, body.assetId);
    const row = await insertEvent(db, {
      accountId: account.id,
      title: body.title,
      description: body.description,
      type: body.type,
      assetId: body.assetId,
      startsAt: body.startsAt ?? new Date().toISOString(),
      gate: body.gate ?? OPEN_GATE,
      replayExpiresAt: body.replayExpiresAt,
      schedule: body.schedule ?? null,
      interactions: body.interactions ?? null,
      lowLatency: body.lowLatency ?? true,
      srtEncryption: body.srtEncryption ?? false,
      language: body.language,
    });
    res.status(201).location(`/api/events/${row.id}`).json(view(row));
  });

  router.get('/', async (req, res) => {
    const query = parseOr400(
      z.object({ limit: Paging.shape.limit, before: z.iso.datetime().optional() }),
      req.query,
      'query',
    );
    // A presenter lists only the events they present (presenterScope says which).
    const onlyIds = res.locals.onlyEvents as readonly string[] | undefined;
    const rows = await listAccountEvents(db, accountOf(res).id, { ...query, onlyIds });
    res.json({
      events: rows.map((r) => view(r)),
      next: rows.length === query.limit ? (rows.at(-1)?.created_at ?? null) : null,
    });
  });

  // Before the /:id routes. The next sessions of a schedule being edited, from the computation the
  // viewer pages use; the work is bounded by count (at most 20) and the 400-day horizon.
  router.post('/schedule-preview', (req, res) => {
    const body = parseOr400(SchedulePreview, req.body, 'body');
    const now = Date.now();
    const starts = sessionStarts(body.schedule, now, now + SESSION_HORIZON_MS, body.count);
    res.set('Cache-Control', 'no-store').json({
      timezone: body.schedule.timezone,
      kind: body.schedule.kind,
      sessions: starts.map((start) => ({ startsAt: new Date(start).toISOString() })),
    });
  });

  router.get('/:id', async (req, res) => {
    res.json(view(await ownEvent(req, accountOf(res).id)));
  });

  router.patch('/:id', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const body = parseOr400(EventPatch, req.body, 'body');
    if (body.type !== undefined && body.type !== row.type) {
      throw new HttpError(
        400,
        'invalid_request',
        `Invalid body: type cannot change (this is a ${row.type} event); create a new event instead`,
      );
    }
    if (body.schedule !== undefined && row.type !== 'automated') {
      throw new HttpError(400, 'invalid_request', 'Invalid body: only automated events have a schedule');
    }
    if (body.lowLatency !== undefined && row.type !== 'live') refuseLiveOnly('lowLatency');
    if (body.srtEncryption !== undefined && row.type !== 'live') refuseLiveOnly('srtEncryption');
    if (body.assetId !== undefined) {
      if (body.assetId === null && row.type !== 'live') {
        throw new HttpError(400, 'invalid_request', `Invalid body: a ${row.type} event needs its assetId`);
      }
      await ownAsset(accountOf(res).id, body.assetId);
    }
    await updateEvent(db, row.id, {
      ...(body.title !== undefined ? { title: body.title } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.assetId !== undefined ? { asset_id: body.assetId } : {}),
      ...(body.startsAt !== undefined ? { starts_at: body.startsAt } : {}),
      ...(body.gate !== undefined ? { gate_json: JSON.stringify(body.gate ?? OPEN_GATE) } : {}),
      ...(body.replayExpiresAt !== undefined ? { replay_expires_at: body.replayExpiresAt } : {}),
      ...(body.ended !== undefined
        ? { ended_at: body.ended ? (row.ended_at ?? new Date().toISOString()) : null }
        : {}),
      ...(body.streamKeyDisabled !== undefined
        ? { stream_key_disabled: body.streamKeyDisabled ? 1 : 0 }
        : {}),
      ...(body.lowLatency !== undefined ? { low_latency: body.lowLatency ? 1 : 0 } : {}),
      ...(body.srtEncryption !== undefined ? { srt_encrypted: body.srtEncryption ? 1 : 0 } : {}),
      ...(body.language !== undefined ? { language: body.language } : {}),
      ...(body.schedule !== undefined ? { schedule_json: JSON.stringify(body.schedule) } : {}),
      ...(body.interactions !== undefined ? { interactions_json: JSON.stringify(body.interactions) } : {}),
    });
    if (body.schedule !== undefined) await moveRegistrants(row, body.schedule, deps.baseUrl());
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!));
  });

  const futureRegistrants = (eventId: string) => listFutureBookings(db, eventId, new Date().toISOString());

  /**
   * A schedule changed: registrants of sessions that no longer exist move to the next session of
   * the new schedule, their pending reminders move with them, and they get a new confirmation.
   */
  async function moveRegistrants(row: EventRow, schedule: Schedule, baseUrl: string): Promise<void> {
    const asset = row.asset_id ? await findAsset(db, row.asset_id) : undefined;
    const duration = asset?.duration_seconds ?? 0;
    const now = Date.now();
    for (const r of await futureRegistrants(row.id)) {
      const old = Date.parse(r.session_at);
      if (isSessionStart(schedule, old)) continue;
      const next =
        schedule.kind === 'once'
          ? Date.parse(schedule.startsAt)
          : sessionStarts(schedule, Math.max(old, now), now + SESSION_HORIZON_MS, 1)[0];
      await cancelSessionMails(deps.queues, r.id, r.session_at, deps.reminderOffsetsSeconds);
      if (next === undefined || next < now) continue;
      const sessionAt = new Date(next).toISOString();
      await bookSession(db, r.id, sessionAt);
      await queueSessionMails(
        deps.queues,
        {
          registrantId: r.id,
          sessionStartMs: next,
          sessionEndMs: next + duration * 1000,
          baseUrl,
          offsetsSeconds: deps.reminderOffsetsSeconds,
          replay: replayDaysOf(schedule) > 0,
          missedDelaySeconds: deps.missedMailDelaySeconds,
          confirmation: true,
        },
        now,
      );
    }
  }

  router.get('/:id/sessions', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const schedule = scheduleOf(row);
    if (row.type !== 'automated' || !schedule)
      throw new HttpError(409, 'not_automated', 'This is not an automated event.');
    const asset = row.asset_id ? await findAsset(db, row.asset_id) : undefined;
    const duration = asset?.duration_seconds ?? 0;
    const now = Date.now();
    const query = parseOr400(SessionsQuery, req.query, 'query');
    // Every listing is bounded twice: by a range (400 days at most) and by a count.
    const from = query.from ? Date.parse(query.from) : now - duration * 1000;
    const to = query.to ? Date.parse(query.to) : from + 14 * 86_400_000;
    if (to <= from) throw new HttpError(400, 'invalid_request', 'Invalid query: to must be after from');
    if (to - from > SESSION_HORIZON_MS) {
      throw new HttpError(400, 'invalid_request', 'Invalid query: at most 400 days at a time (from .. to)');
    }
    const starts = sessionStarts(schedule, from, to, query.limit);
    const registered = await countRegistrantsBySession(db, row.id);
    const attendees = await countAttendeesBySession(db, row.id);
    res.json({
      timezone: schedule.timezone,
      kind: schedule.kind,
      // Where the next page starts, when this one was cut by the limit.
      next: starts.length === query.limit ? new Date(starts.at(-1)! + 1000).toISOString() : null,
      sessions: starts.map((start) => {
        const view = sessionView(schedule, start, duration, now);
        const iso = new Date(start).toISOString();
        return {
          startsAt: iso,
          endsAt: new Date(view.endMs).toISOString(),
          state: view.state,
          registrants: registered.get(iso) ?? 0,
          attendees: attendees.get(iso) ?? 0,
        };
      }),
    });
  });

  async function ownLiveEvent(req: Request, accountId: string): Promise<EventRow> {
    const row = await ownEvent(req, accountId);
    if (row.type !== 'live') throw new HttpError(409, 'not_live', 'This is not a live event.');
    return row;
  }

  // A new key at once; the old one is refused from the next connection on.
  router.post('/:id/stream-key', async (req, res) => {
    const row = await ownLiveEvent(req, accountOf(res).id);
    await updateEvent(db, row.id, { stream_key: newStreamKey() });
    // The old key must leave no trace in the database files either.
    await eraseOverwritten(db);
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!));
  });

  // Ends a live event now: the stream is cut, the playlists close and the replay is published.
  router.post('/:id/end', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    if (!row.ended_at) await updateEvent(db, row.id, { ended_at: new Date().toISOString() });
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!));
  });

  router.get('/:id/live', async (req, res) => {
    const row = await ownLiveEvent(req, accountOf(res).id);
    res.set('Cache-Control', 'no-store').json(await liveHealthView(db, deps.redis, row));
  });

  // A link for a guest presenter (no account): the presenter page with a signed token in its
  // fragment. Presenters cannot make one (presenterScope answers 403): only owners, managers, keys.
  router.post('/:id/presenter-link', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const body = parseOr400(PresenterLinkBody, req.body ?? {}, 'body');
    if (row.type !== 'live' || !row.stream_key)
      throw new HttpError(400, 'not_live', 'Presenter links are for live events only.');
    if (row.stream_key_disabled === 1)
      throw new HttpError(
        400,
        'stream_key_disabled',
        'The stream key of this event is disabled: enable it (PATCH streamKeyDisabled: false) first.',
      );
    const expires = Math.floor(Date.now() / 1000) + body.days * 86_400;
    const token = signPresenterToken({ ...row, stream_key: row.stream_key }, deps.secret, expires);
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json({
        url: presenterLink(deps.baseUrl(), row.id, token),
        expiresAt: new Date(expires * 1000).toISOString(),
      });
  });

  router.delete('/:id', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    // Pending reminders go first (a reminder job finding no registrant would send nothing anyway).
    for (const r of await futureRegistrants(row.id)) {
      await cancelSessionMails(deps.queues, r.id, r.session_at, deps.reminderOffsetsSeconds);
    }
    await deleteEvent(db, row.id);
    res.status(204).end();
  });

  router.get('/:id/registrants', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const paging = parseOr400(RegistrantsQuery, req.query, 'query');
    const rows = await listRegistrantsWithStats(db, row.id, { ...paging, search: paging.q?.trim() });
    res.json({
      registrants: rows.map(registrantView),
      next: rows.length === paging.limit ? paging.offset + paging.limit : null,
    });
  });

  router.get('/:id/registrants.csv', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const csv = await registrantsCsv(db, row);
    res
      .type('text/csv; charset=utf-8; header=present')
      .set('Content-Disposition', `attachment; filename="registrants-${row.webinar_id}.csv"`)
      .set('Cache-Control', 'no-store')
      .send(csv);
  });

  // Rectification and restriction on a viewer's request to the marketer (GDPR arts. 16, 18).
  router.patch('/:id/registrants/:registrantId', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const registrant = await findRegistrant(db, String(req.params.registrantId));
    if (!registrant || registrant.event_id !== row.id)
      throw new HttpError(404, 'not_found', 'No such registrant.');
    if (registrant.anonymised_at) throw new HttpError(410, 'erased', 'This registrant was erased.');
    const body = parseOr400(RegistrantPatch, req.body, 'body');
    if (body.name !== undefined || body.company !== undefined) {
      await rectifyRegistrant(db, registrant.id, { name: body.name, company: body.company }, 'marketer');
    }
    if (body.restricted !== undefined) {
      await restrictRegistrant(db, registrant.id, body.restricted, 'marketer');
    }
    const [updated] = await listRegistrantsWithStats(db, row.id, {
      limit: 1,
      offset: 0,
      registrantId: registrant.id,
    });
    res.json(registrantView(updated!));
  });

  router.delete('/:id/registrants/:registrantId', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const registrant = await findRegistrant(db, String(req.params.registrantId));
    if (!registrant || registrant.event_id !== row.id)
      throw new HttpError(404, 'not_found', 'No such registrant.');
    await eraseRegistrants(db, [registrant.id]);
    res.status(204).end();
  });

  router.get('/:id/analytics', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const interactions = interactionsOf(row);
    const clicks = await countCtaClicks(db, row.id);
    const votes = await countPollVotes(db, row.id);
    res.json({
      ...(await eventAnalytics(db, row)),
      ctas: interactions.ctas.map((c) => ({
        id: c.id,
        headline: c.headline,
        clicks: clicks.get(c.id) ?? 0,
      })),
      polls: interactions.polls.map((p) => ({
        id: p.id,
        question: p.question,
        options: p.options,
        votes: p.options.map((_, i) => votes.get(p.id)?.get(i) ?? 0),
      })),
    });
  });

  router.get('/:id/analytics/series', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    res.json(await analyticsSeries(db, row));
  });

  return router;
}
