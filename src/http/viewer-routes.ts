import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { findEventByWebinarId, gateOf, type EventRow } from '../db/events.ts';
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
  now?: () => number;
}

const ACCESS_DAYS = 90;

function cookieName(webinarId: string): string {
  return `onair_w_${webinarId}`;
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
});

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

  function grantAccess(req: Request, res: Response, event: EventRow, registrantId: string): void {
    const expires = Math.floor(now() / 1000) + ACCESS_DAYS * 86_400;
    const secure = req.secure;
    res.cookie(cookieName(event.webinar_id), signValue(`${registrantId}|${expires}`, secret), {
      httpOnly: true,
      // Embedded players live in third-party iframes: that needs SameSite=None, which needs HTTPS.
      sameSite: secure ? 'none' : 'lax',
      secure,
      path: `/w/${event.webinar_id}`,
      maxAge: ACCESS_DAYS * 86_400_000,
      encode: String,
    });
  }

  async function viewOf(req: Request, event: EventRow, registrantId: string | undefined) {
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

  router.get('/w/:webinarId/info.json', async (req, res) => {
    const event = await eventFor(req);
    res
      .set('Cache-Control', 'private, no-store')
      .json(await viewOf(req, event, registrantIdFrom(req, event)));
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
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json(await viewOf(req, event, registrant.id));
  });

  router.post('/w/:webinarId/heartbeat', async (req, res) => {
    const event = await eventFor(req);
    const beat = parseOr400(Beat, req.body, 'heartbeat');
    await recordHeartbeat(db, {
      ...beat,
      eventId: event.id,
      registrantId: registrantIdFrom(req, event) ?? null,
    });
    res.status(204).end();
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
