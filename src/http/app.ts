import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Metrics } from '../services/metrics.ts';
import type { Storage } from '../storage/storage.ts';
import { assetView } from './asset-view.ts';
import { assetRoutes } from './assets-routes.ts';
import { EVERYONE, requireRole, STAFF, type AuthDeps } from './auth.ts';
import { errorHandler, HttpError, parseOr400 } from './errors.ts';
import { eventRoutes } from './events-routes.ts';
import { rejectBadBody, rejectBadText } from './input.ts';
import { pageSecurityHeaders } from './page-headers.ts';
import { presentRoutes } from './present-routes.ts';
import { operatorRoutes } from './operator-routes.ts';
import { selfServiceRoutes } from './self-service-routes.ts';
import { statusRoutes } from './status-routes.ts';
import { ingestUrls, type IngestView } from './ingest-urls.ts';
import { srtPassphrase } from '../live/srt-passphrase.ts';
import { proxyTo } from './proxy.ts';
import { tusResumableHeader, tusRoutes } from './tus-routes.ts';
import { presenterScope, teamRoutes } from './team-routes.ts';
import { viewerPageRoutes } from './viewer-pages.ts';
import { viewerRoutes, type ViewerRoutesDeps } from './viewer-routes.ts';
import { webhookRoutes } from './webhooks-routes.ts';

export interface AppDeps {
  config: Config;
  db: Db;
  storage: Storage;
  queues: JobQueues;
  log: Logger;
  /** Bundled browser code (file name -> JS). */
  playerBundle: Map<string, string>;
  /** Liveness of the things the API depends on, for /healthz. */
  health: () => Promise<Record<string, boolean>>;
  secret: string;
  urls: PlaybackUrls;
  rateLimit: ViewerRoutesDeps['rateLimit'];
  redis: Redis;
  /**
   * The public base URL of every link onair hands out, mails or stores: PUBLIC_URL, else this
   * server's own listening address. Never the request's Host header (anyone can send one).
   */
  publicUrl: () => string;
  metrics: Metrics;
  /** Opens /metrics and /admin/queues (`onair operator-key`). */
  operatorKey: string;
}

const projectRoot = path.resolve(import.meta.dirname, '../..');

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const baseUrl = deps.publicUrl;
  app.use(rejectBadText);

  app.get('/healthz', async (_req, res) => {
    const checks = await deps.health();
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ ok, ...checks });
  });

  app.use(
    statusRoutes({
      db: deps.db,
      redis: deps.redis,
      storage: deps.storage,
      queues: deps.queues,
      ingestExpected: deps.config.ingest,
    }),
  );
  app.use(
    operatorRoutes({
      db: deps.db,
      redis: deps.redis,
      queues: deps.queues,
      metrics: deps.metrics,
      operatorKey: deps.operatorKey,
      publicUrl: baseUrl,
    }),
  );

  const auth: AuthDeps = { db: deps.db, secret: deps.secret, publicUrl: baseUrl };
  // JSON bodies are checked once parsed (rejectBadText above sees only path and query).
  const json = [express.json({ limit: '64kb' }), rejectBadBody];
  app.use(['/api/auth', '/api/team', '/api/keys', '/api/account', '/api/events/:id/presenters'], json);
  app.use(
    teamRoutes({
      ...auth,
      queues: deps.queues,
      signup: deps.config.signup,
      rateLimit: deps.rateLimit,
    }),
  );
  app.use(
    '/api/assets',
    requireRole(auth, STAFF),
    assetRoutes({
      db: deps.db,
      storage: deps.storage,
      queues: deps.queues,
      maxUploadBytes: deps.config.maxUploadBytes,
      baseUrl,
      urls: deps.urls,
    }),
  );
  app.use(
    '/api/uploads',
    tusResumableHeader,
    requireRole(auth, STAFF),
    tusRoutes({
      db: deps.db,
      storage: deps.storage,
      queues: deps.queues,
      log: deps.log,
      maxUploadBytes: deps.config.maxUploadBytes,
      baseUrl,
    }),
  );
  const ingest: IngestView = {
    ...ingestUrls(deps.config, baseUrl),
    srtPassphrase: (eventId, streamKey) => srtPassphrase(deps.secret, eventId, streamKey),
  };
  // `npm start`: the WHIP endpoint at PUBLIC_URL/whip (same origin and TLS as the presenter page).
  if (deps.config.ingest && deps.config.whip && !deps.config.whip.publicUrl)
    app.use('/whip', proxyTo(`http://127.0.0.1:${deps.config.whip.port}/whip`));
  app.use(
    '/api/events',
    requireRole(auth, EVERYONE),
    presenterScope(deps.db),
    json,
    eventRoutes({
      db: deps.db,
      redis: deps.redis,
      queues: deps.queues,
      reminderOffsetsSeconds: deps.config.reminderOffsetsSeconds,
      missedMailDelaySeconds: deps.config.missedMailDelaySeconds,
      baseUrl,
      ingest,
      liveSegmentSeconds: deps.config.live.segmentSeconds,
      secret: deps.secret,
    }),
  );
  // A guest presenter's link (no account): its own bearer token, never a session cookie.
  app.use(presentRoutes({ db: deps.db, redis: deps.redis, secret: deps.secret, baseUrl, ingest }));
  app.use(
    '/api/webhooks',
    requireRole(auth, STAFF),
    json,
    webhookRoutes({
      db: deps.db,
      secret: deps.secret,
      outbound: { allowPrivate: deps.config.webhookAllowPrivate },
    }),
  );
  app.use('/api', (_req, _res, next) => next(new HttpError(404, 'not_found', 'No such API endpoint.')));

  const framed = pageSecurityHeaders(baseUrl, 'embeddable');
  const unframed = pageSecurityHeaders(baseUrl, 'never-framed');
  app.get('/u/:token', unframed);
  // Bodies are parsed only on the paths that take them.
  app.use(['/me', '/u', '/w'], json);
  app.use(selfServiceRoutes({ db: deps.db, secret: deps.secret }));
  app.use(
    viewerRoutes({
      db: deps.db,
      secret: deps.secret,
      urls: deps.urls,
      baseUrl,
      rateLimit: deps.rateLimit,
      registerPerMinute: deps.config.registerPerMinute,
      queues: deps.queues,
      reminderOffsetsSeconds: deps.config.reminderOffsetsSeconds,
      missedMailDelaySeconds: deps.config.missedMailDelaySeconds,
      metrics: deps.metrics,
    }),
  );

  const page = (name: string) => fs.readFileSync(path.join(projectRoot, `player/${name}.html`), 'utf8');
  const adminHtml = page('admin');
  const html =
    (body: string, extra: Record<string, string> = {}): RequestHandler =>
    (_req, res) =>
      void res.type('html').set(extra).send(body);
  // The app; /admin/invitation and /admin/reset are where mailed links land (their token in the fragment).
  app.get(
    ['/', '/admin', '/admin/invitation', '/admin/reset'],
    unframed,
    html(adminHtml, { 'Cache-Control': 'no-store' }),
  );
  // A webinar's page in the app; the id is read and checked by the page, which asks the API.
  app.get('/admin/events/:id', unframed, html(page('admin-event'), { 'Cache-Control': 'no-store' }));
  app.get('/admin/assets/:id', unframed, html(page('admin-asset'), { 'Cache-Control': 'no-store' }));
  // Going live from the browser (WHIP); the page asks the API for the event and its stream key.
  // The presenter page talks to the WHIP endpoint, which may be the ingest's own host (WHIP_PUBLIC_URL).
  const presenting = pageSecurityHeaders(baseUrl, 'never-framed', () => [ingest.whip()]);
  app.get('/present/:id', presenting, html(page('present'), { 'Cache-Control': 'no-store' }));
  // /join, /w/<id>, /me/<token>, /play/<asset>, in the viewer's language (the admin stays English).
  app.use(viewerPageRoutes(projectRoot, { db: deps.db, secret: deps.secret, framed, unframed }));
  // Page styles are files (the CSP allows no inline <style>), read once at start-up.
  const styles = new Map(
    ['base', 'admin', 'event', 'join', 'me', 'play', 'present', 'status'].map((name) => [
      `${name}.css`,
      fs.readFileSync(path.join(projectRoot, `player/${name}.css`), 'utf8'),
    ]),
  );
  // uPlot's own styles (the app's charts), from the pinned package: a file like the others.
  styles.set(
    'uplot.css',
    fs.readFileSync(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  );
  app.get('/player/:file.css', (req, res) => {
    const css = styles.get(`${req.params.file}.css`);
    if (!css) return void res.sendStatus(404);
    res.type('text/css').set('Cache-Control', 'public, max-age=300').send(css);
  });
  app.get('/player/:file', (req, res) => {
    const js = deps.playerBundle.get(req.params.file);
    if (!js) return void res.sendStatus(404);
    res.type('text/javascript').set('Cache-Control', 'public, max-age=300').send(js);
  });
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.get('/play/:assetId/source.json', async (req, res) => {
    const id = parseOr400(z.string().max(64), req.params.assetId, 'asset id');
    // The preview link is signed: an asset id alone must not open a recording behind a gate.
    const token = typeof req.query.t === 'string' ? req.query.t : '';
    if (!deps.urls.checkPreviewToken(id, token)) {
      throw new HttpError(403, 'forbidden', 'This preview link is not valid or has expired.');
    }
    const row = await findAsset(deps.db, id);
    if (!row) throw new HttpError(404, 'not_found', 'Not found');
    const view = assetView(row, baseUrl(), deps.urls);
    res.set('Cache-Control', 'no-store').json({
      title: view.title,
      status: view.status,
      master: view.playback?.master ?? null,
      poster: view.playback?.poster ?? null,
      storyboard: view.playback?.storyboard ?? null,
      complete: view.playback?.complete ?? false,
    });
  });

  app.use(errorHandler(deps.log));
  return app;
}
