import { Router, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { Db } from '../db/database.ts';
import { findOpenAccountEvent, type EventRow } from '../db/events.ts';
import {
  openPresenterToken,
  PRESENTER_TOKEN_MAX_LENGTH,
  presenterTokenStands,
} from '../live/presenter-links.ts';
import { eventView, liveHealthView, presenterView } from './events-routes.ts';
import { HttpError } from './errors.ts';
import type { IngestView } from './ingest-urls.ts';

export interface PresentRoutesDeps {
  db: Db;
  redis: Redis;
  secret: string;
  /** Public base URL, from configuration (never the request). */
  baseUrl: () => string;
  ingest: IngestView;
}

const BEARER = new RegExp(`^Bearer\\s+(\\S{1,${PRESENTER_TOKEN_MAX_LENGTH}})$`, 'i');

/** One answer for every refusal: a caller learns nothing about which events or accounts exist. */
function invalidLink(): HttpError {
  return new HttpError(
    401,
    'invalid_link',
    'This presenter link is not valid or has expired: ask the organiser for a new one.',
  );
}

/**
 * What a guest presenter's link opens (`src/live/presenter-links.ts`): the presenter page's reads,
 * with the link's token as `Authorization: Bearer` (never in a query, which logs would keep). No
 * session cookie counts here, and nothing here changes anything, so there is no CSRF to check:
 * the WHIP endpoint, with the stream key, is where going live and ending happen.
 */
export function presentRoutes(deps: PresentRoutesDeps): Router {
  const { db } = deps;
  const router = Router();

  /** The event a request's token stands for; 401 for anything else, before any lookup. */
  async function linkedEvent(req: Request, res: Response): Promise<EventRow> {
    res.set('Cache-Control', 'no-store');
    const refuse = () => {
      res.set('WWW-Authenticate', 'Bearer');
      return invalidLink();
    };
    const token = BEARER.exec(req.get('authorization') ?? '')?.[1];
    const opened = token
      ? openPresenterToken(token, String(req.params.id), deps.secret, Math.floor(Date.now() / 1000))
      : undefined;
    if (!opened) throw refuse();
    // Only now a lookup, of the event the signature names: gone, in a closed account, or with
    // another (or a disabled) key, the link is void.
    const row = await findOpenAccountEvent(db, opened.accountId, opened.eventId);
    if (!row || row.type !== 'live' || !presenterTokenStands(opened, row)) throw refuse();
    return row;
  }

  router.get('/api/present/:id', async (req, res) => {
    const row = await linkedEvent(req, res);
    res.json(presenterView(eventView(row, deps.baseUrl(), deps.ingest)));
  });

  router.get('/api/present/:id/live', async (req, res) => {
    const row = await linkedEvent(req, res);
    const { status, viewersNow, protocol } = await liveHealthView(db, deps.redis, row);
    res.json({ status, viewersNow, protocol });
  });

  return router;
}
