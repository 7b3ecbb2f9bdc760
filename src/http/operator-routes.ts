import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import type { Redis } from 'ioredis';
import { Gauge, Registry } from 'prom-client';
import { countViewersByEvent } from '../db/analytics.ts';
import type { Db } from '../db/database.ts';
import { QUEUE_NAMES, type JobQueues } from '../queue/catalogue.ts';
import { deploymentMetrics, type Metrics } from '../services/metrics.ts';
import { requireOperator, sameOriginWrites } from './auth.ts';

export interface OperatorRoutesDeps {
  db: Db;
  redis: Redis;
  queues: JobQueues;
  metrics: Metrics;
  operatorKey: string;
  publicUrl: () => string;
}

/** Job states counted per queue on each scrape (BullMQ keeps each in one Redis structure: O(1)). */
const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children'] as const;
/** A viewer is "now" if their player sent a heartbeat this recently (players beat every 10 s). */
const VIEWERS_NOW_MS = 30_000;
/** Events reported by the viewers gauge: the most watched, so a scrape stays small. */
const VIEWER_EVENTS = 500;
/** One scrape's gauges are kept this long: two Prometheus servers (or a crowd) cost one computation. */
const SCRAPE_CACHE_MS = 1000;

/**
 * What only the operator sees: Prometheus `/metrics` for the whole deployment, and the BullMQ
 * dashboard (bull-board) at `/admin/queues`. Both need the operator key.
 */
export function operatorRoutes(deps: OperatorRoutesDeps): express.Router {
  const router = express.Router();
  const operator = requireOperator(deps.operatorKey);

  let scraped: { at: number; registry: Registry } | undefined;
  async function scrapeGauges() {
    if (scraped && Date.now() - scraped.at < SCRAPE_CACHE_MS) return scraped.registry;
    const registry = new Registry();
    const depth = new Gauge({
      name: 'onair_queue_jobs',
      help: 'Jobs in each queue, by state.',
      labelNames: ['queue', 'state'],
      registers: [registry],
    });
    const viewers = new Gauge({
      name: 'onair_viewers',
      help: `Viewers of each event whose player reported in the last ${VIEWERS_NOW_MS / 1000} s.`,
      labelNames: ['event'],
      registers: [registry],
    });
    if (deps.redis.status === 'ready') {
      for (const name of QUEUE_NAMES) {
        const counts = await deps.queues.queue(name).getJobCounts(...JOB_STATES);
        for (const state of JOB_STATES) depth.set({ queue: name, state }, counts[state] ?? 0);
      }
    }
    const since = new Date(Date.now() - VIEWERS_NOW_MS).toISOString();
    for (const row of await countViewersByEvent(deps.db, since, VIEWER_EVENTS))
      viewers.set({ event: row.eventId }, row.viewers);
    scraped = { at: Date.now(), registry };
    return registry;
  }

  router.get('/metrics', operator, async (_req, res) => {
    const { text, contentType } = await deploymentMetrics(deps.metrics, deps.redis, await scrapeGauges());
    res.set('Cache-Control', 'no-store').type(contentType).send(text);
  });

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: QUEUE_NAMES.map((name) => new BullMQAdapter(deps.queues.queue(name))),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'onair queues' } },
  });
  router.use(
    '/admin/queues',
    operator,
    sameOriginWrites(deps.publicUrl),
    (_req, res, next) => {
      res.set({ 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' });
      next();
    },
    board.getRouter() as express.Router,
  );
  return router;
}
