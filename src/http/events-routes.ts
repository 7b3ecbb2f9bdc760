import { Router, type Request } from 'express';
import { z } from 'zod';
import { findAccountAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import {
  deleteEvent,
  findAccountEvent,
  gateOf,
  insertEvent,
  listAccountEvents,
  OPEN_GATE,
  updateEvent,
  type EventRow,
  type GateSettings,
} from '../db/events.ts';
import { eraseRegistrants, findRegistrant, listRegistrantsWithStats } from '../db/registrants.ts';
import type { Redis } from 'ioredis';
import { formatWebinarId, newStreamKey } from '../ids.ts';
import { FALLING_BEHIND_SPEED, readHealth } from '../live/live-state.ts';
import { eventAnalytics } from '../services/analytics.ts';
import { registrantsCsv } from '../services/registrant-export.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';

const FieldRule = z.enum(['off', 'optional', 'required']);
const Gate = z
  .object({
    emailRequired: z.boolean().default(true),
    fields: z
      .object({ name: FieldRule.default('off'), company: FieldRule.default('off') })
      .default({ name: 'off', company: 'off' }),
    privacyNoticeUrl: z.url().nullable().default(null),
    privacyNoticeVersion: z.string().trim().min(1).max(40).nullable().default(null),
  })
  .refine((g) => !g.emailRequired || (g.privacyNoticeUrl && g.privacyNoticeVersion), {
    message:
      'an email gate needs privacyNoticeUrl and privacyNoticeVersion (viewers must see what they agree to)',
  });

const EventBody = z.object({
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().max(5000).default(''),
  type: z.enum(['on_demand', 'live', 'automated']),
  assetId: z.string().nullable().default(null),
  startsAt: z.iso.datetime({ offset: true }).optional(),
  gate: Gate.nullable().default(null),
  replayExpiresAt: z.iso.datetime({ offset: true }).nullable().default(null),
});
const EventPatch = EventBody.partial().extend({
  ended: z.boolean().optional(),
  streamKeyDisabled: z.boolean().optional(),
});
const EventId = z.string().regex(/^ev_[A-Za-z0-9]{16}$/, 'is not an event id');
const Paging = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export interface EventRoutesDeps {
  db: Db;
  redis: Redis;
  baseUrl: (req: Request) => string;
  /** The RTMP server URL presenters paste into OBS. */
  rtmpUrl: (req: Request) => string;
}

/** What we tell presenters to set in OBS (Settings > Output, Advanced; Settings > Audio). */
export const OBS_SETTINGS = {
  encoder: 'x264 (or a hardware H.264 encoder)',
  rateControl: 'CBR',
  bitrateKbps: 4500,
  keyframeIntervalSeconds: 2,
  profile: 'high',
  tune: 'zerolatency',
  audio: 'AAC, 48 kHz, 160 kbit/s',
  resolution: '1920x1080 or 1280x720, 30 fps',
} as const;

export function eventView(row: EventRow, baseUrl: string, rtmpUrl?: string) {
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
    pageUrl,
    ...(row.type === 'live'
      ? {
          live: {
            status: row.live_status,
            startedAt: row.live_started_at,
            rtmpUrl: rtmpUrl ?? null,
            streamKey: row.stream_key,
            streamKeyDisabled: row.stream_key_disabled === 1,
            obsSettings: OBS_SETTINGS,
          },
        }
      : {}),
    embedHtml: `<iframe src="${pageUrl}?embed=1" title="${row.title.replace(/[<>&"]/g, '')}" width="960" height="600" style="border:0;max-width:100%" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function eventRoutes(deps: EventRoutesDeps): Router {
  const { db } = deps;
  const router = Router();
  const view = (row: EventRow, req: Request) => eventView(row, deps.baseUrl(req), deps.rtmpUrl(req));

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
    });
    res.status(201).location(`/api/events/${row.id}`).json(view(row, req));
  });

  router.get('/', async (req, res) => {
    const query = parseOr400(
      z.object({ limit: Paging.shape.limit, before: z.string().optional() }),
      req.query,
      'query',
    );
    const rows = await listAccountEvents(db, accountOf(res).id, query);
    res.json({
      events: rows.map((r) => view(r, req)),
      next: rows.length === query.limit ? (rows.at(-1)?.created_at ?? null) : null,
    });
  });

  router.get('/:id', async (req, res) => {
    res.json(view(await ownEvent(req, accountOf(res).id), req));
  });

  router.patch('/:id', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const body = parseOr400(EventPatch, req.body, 'body');
    if (body.assetId !== undefined) await ownAsset(accountOf(res).id, body.assetId);
    await updateEvent(db, row.id, {
      ...(body.title !== undefined ? { title: body.title } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.type !== undefined ? { type: body.type } : {}),
      ...(body.assetId !== undefined ? { asset_id: body.assetId } : {}),
      ...(body.startsAt !== undefined ? { starts_at: body.startsAt } : {}),
      ...(body.gate !== undefined ? { gate_json: JSON.stringify(body.gate ?? OPEN_GATE) } : {}),
      ...(body.replayExpiresAt !== undefined ? { replay_expires_at: body.replayExpiresAt } : {}),
      ...(body.ended !== undefined ? { ended_at: body.ended ? new Date().toISOString() : null } : {}),
      ...(body.streamKeyDisabled !== undefined
        ? { stream_key_disabled: body.streamKeyDisabled ? 1 : 0 }
        : {}),
    });
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!, req));
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
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!, req));
  });

  // Ends a live event now: the stream is cut, the playlists close and the replay is published.
  router.post('/:id/end', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    if (!row.ended_at) await updateEvent(db, row.id, { ended_at: new Date().toISOString() });
    res.json(view((await findAccountEvent(db, accountOf(res).id, row.id))!, req));
  });

  router.get('/:id/live', async (req, res) => {
    const row = await ownLiveEvent(req, accountOf(res).id);
    const health = await readHealth(deps.redis, row.id);
    const since = new Date(Date.now() - 30_000).toISOString();
    const viewers = await db
      .selectFrom('view_sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('event_id', '=', row.id)
      .where('last_seen_at', '>', since)
      .executeTakeFirst();
    res.set('Cache-Control', 'no-store').json({
      status: row.live_status,
      startedAt: row.live_started_at,
      viewersNow: Number(viewers?.n ?? 0),
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
      updatedAt: health?.updatedAt ?? null,
    });
  });

  router.delete('/:id', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    await deleteEvent(db, row.id);
    res.status(204).end();
  });

  router.get('/:id/registrants', async (req, res) => {
    const row = await ownEvent(req, accountOf(res).id);
    const paging = parseOr400(Paging, req.query, 'query');
    const rows = await listRegistrantsWithStats(db, row.id, paging);
    res.json({
      registrants: rows.map((r) => ({
        id: r.id,
        email: r.email,
        name: r.name,
        company: r.company,
        marketingConsent: r.marketing_consent === 1,
        registeredAt: r.created_at,
        anonymisedAt: r.anonymised_at,
        secondsWatched: Math.round(r.seconds_watched),
        furthestPosition: Math.round(r.furthest_position),
      })),
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
    res.json(await eventAnalytics(db, row));
  });

  return router;
}
