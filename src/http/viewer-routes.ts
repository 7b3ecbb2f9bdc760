import { Router } from 'express';
import { z } from 'zod';
import { readBound } from '../automated/links.ts';
import { findAsset } from '../db/assets.ts';
import { recordHeartbeat } from '../services/analytics.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { ViewerContext, type ViewerRoutesDeps } from './viewer-context.ts';
import { interactionRoutes } from './viewer-interaction-routes.ts';
import { viewerLanguage } from './viewer-language.ts';
import { registrationRoutes } from './viewer-registration-routes.ts';

export type { ViewerRoutesDeps } from './viewer-context.ts';

const Beat = z.object({
  /** The viewing grant info.json handed out with the playback URLs. */
  view: z.string().min(1).max(1024),
  position: z
    .number()
    .min(0)
    .max(7 * 24 * 3600),
  played: z.number().min(0).max(3600),
  /** Live: seconds between the playhead and the newest media the player knows of. */
  behindLive: z.number().min(0).max(86_400).optional(),
  /** Times playback stopped to wait for data since the last beat, and for how long in all. */
  stalls: z.number().int().min(0).max(1000).optional(),
  stalledSeconds: z.number().min(0).max(3600).optional(),
});

/**
 * What viewers reach without an API key, by concern:
 * - here: the event page's data (`info.json`, its view-model in `viewer-page.ts`) and the
 *   heartbeats of a viewing it granted;
 * - `viewer-registration-routes.ts`: registration (the email gate) and booking sessions;
 * - `viewer-interaction-routes.ts`: CTA clicks and polls.
 * Who the viewer is and whether they may watch (`canWatch`), in `viewer-access.ts`; the data page
 * and unsubscribe links, in `self-service-routes.ts`.
 */
export function viewerRoutes(deps: ViewerRoutesDeps): Router {
  const ctx = new ViewerContext(deps);
  const { db, secret, access, now } = ctx;
  const router = Router();

  router.get('/w/:webinarId/info.json', async (req, res) => {
    const event = await ctx.eventFor(req);
    let viewer = await access.viewerOf(req, event);
    // A personal join link from an email (`?k=`): proof of the mailbox, so this browser becomes
    // the registrant's own.
    if (typeof req.query.k === 'string') {
      const fields = readBound('join', req.query.k, event, secret, ctx.nowSeconds());
      const linked = fields?.[0] ? await access.viewerFor(event, fields[0], true) : undefined;
      if (linked?.registrant) {
        access.grant(req, res, event, linked.registrant.id, true);
        viewer = linked;
      }
    }
    const session = event.type === 'automated' ? access.chosenSession(req, event, viewer) : undefined;
    res
      .set('Cache-Control', 'private, no-store')
      .json(await ctx.page(event, viewer, session, viewerLanguage(req, event)));
  });

  router.use(registrationRoutes(ctx));

  // Access was checked when the page handed out the signed viewing grant this beat carries.
  router.post('/w/:webinarId/heartbeat', async (req, res) => {
    const event = await ctx.eventFor(req);
    const beat = parseOr400(Beat, req.body, 'heartbeat');
    const fields = readBound('view', beat.view, event, secret, ctx.nowSeconds());
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
    const metrics = deps.metrics;
    if (metrics) {
      if (beat.behindLive !== undefined && event.type !== 'on_demand')
        metrics.viewerBehindLive.observe({ type: event.type }, beat.behindLive);
      if (beat.stalls) metrics.viewerStalls.inc({ type: event.type }, beat.stalls);
      if (beat.stalledSeconds) metrics.viewerStalledSeconds.inc({ type: event.type }, beat.stalledSeconds);
    }
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

  router.use(interactionRoutes(ctx));

  return router;
}
