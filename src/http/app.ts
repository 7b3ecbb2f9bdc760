import fs from 'node:fs';
import path from 'node:path';
import express, { type Request } from 'express';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { mediaRoutes } from '../origin/media-routes.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Storage } from '../storage/storage.ts';
import { assetView } from './asset-view.ts';
import { assetRoutes } from './assets-routes.ts';
import { requireApiKey } from './auth.ts';
import { errorHandler, HttpError } from './errors.ts';

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
}

const projectRoot = path.resolve(import.meta.dirname, '../..');

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const baseUrl = (req: Request) =>
    deps.config.publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;

  app.get('/healthz', async (_req, res) => {
    const checks = await deps.health();
    const ok = Object.values(checks).every(Boolean);
    res.status(ok ? 200 : 503).json({ ok, ...checks });
  });

  app.use(
    '/api/assets',
    requireApiKey(deps.db),
    assetRoutes({
      db: deps.db,
      storage: deps.storage,
      queues: deps.queues,
      maxUploadBytes: deps.config.maxUploadBytes,
      baseUrl,
    }),
  );
  app.use('/api', (_req, _res, next) => next(new HttpError(404, 'not_found', 'No such API endpoint.')));

  app.use('/media', mediaRoutes({ db: deps.db, storage: deps.storage }));

  const playHtml = fs.readFileSync(path.join(projectRoot, 'player/play.html'), 'utf8');
  const adminHtml = fs.readFileSync(path.join(projectRoot, 'player/admin.html'), 'utf8');
  app.get(['/', '/admin'], (_req, res) => void res.type('html').send(adminHtml));
  app.get('/player/:file', (req, res) => {
    const js = deps.playerBundle.get(req.params.file);
    if (!js) return void res.sendStatus(404);
    res.type('text/javascript').set('Cache-Control', 'public, max-age=300').send(js);
  });
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.get('/play/:assetId', (_req, res) => {
    res.type('html').send(playHtml);
  });
  app.get('/play/:assetId/source.json', async (req, res) => {
    const id = z.string().max(64).parse(req.params.assetId);
    const row = await findAsset(deps.db, id);
    if (!row) throw new HttpError(404, 'not_found', 'Not found');
    const view = assetView(row, baseUrl(req));
    res.set('Cache-Control', 'no-store').json({
      title: view.title,
      status: view.status,
      master: view.playback?.master ?? null,
      poster: view.playback?.poster ?? null,
      complete: view.playback?.complete ?? false,
    });
  });

  app.use(errorHandler(deps.log));
  return app;
}
