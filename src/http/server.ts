import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { createOriginHandler } from '../origin/origin-handler.ts';
import { PlaybackUrls } from '../origin/playback-urls.ts';
import { playbackKey } from '../origin/tokens.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Metrics } from '../services/metrics.ts';
import { operatorKey } from '../services/secret.ts';
import type { Storage } from '../storage/storage.ts';
import { answersWithin, coreHealth } from '../services/health.ts';
import { createApp } from './app.ts';
import { HttpError } from './errors.ts';
import { bundlePlayer } from './player-bundle.ts';

export interface HttpServerDeps {
  config: Config;
  db: Db;
  storage: Storage;
  redis: Redis;
  queues: JobQueues;
  secret: string;
  log: Logger;
  metrics: Metrics;
}

/** A registration waits at most this long for the shared rate counter before answering 503. */
const RATE_LIMIT_MS = 1000;

/** The HTTP server of one process: the origin on `/s/` (outside Express), the app for the rest. */
export async function createHttpServer(deps: HttpServerDeps): Promise<http.Server> {
  const { config, db, storage, redis, secret } = deps;
  // Links come from configuration; without PUBLIC_URL, from the address this server listens on.
  const publicUrl = () => config.publicUrl ?? defaultPublicUrl(config.host, server.address());
  const app = createApp({
    publicUrl,
    config,
    db,
    storage,
    redis,
    queues: deps.queues,
    log: deps.log,
    playerBundle: await bundlePlayer(path.resolve(import.meta.dirname, '../..')),
    secret,
    urls: new PlaybackUrls(playbackKey(secret), config.playbackTokenTtlSeconds),
    // Fixed one-window counter in the shared Redis, so every API node counts together.
    // Redis down: answer 503 at once rather than hold the request until it is back.
    rateLimit: async (key, limit, windowSeconds) => {
      const bucket = `rl:${key}:${Math.floor(Date.now() / 1000 / windowSeconds)}`;
      let count = 0;
      const counted =
        redis.status === 'ready' &&
        (await answersWithin(RATE_LIMIT_MS, async () => {
          const [[, n]] = (await redis.multi().incr(bucket).expire(bucket, windowSeconds).exec()) as [
            [null, number],
          ];
          count = n;
        }));
      if (!counted) {
        throw new HttpError(503, 'unavailable', 'onair is briefly unavailable: try again in a few seconds.');
      }
      return count <= limit;
    },
    health: () => coreHealth(db, redis),
    metrics: deps.metrics,
    operatorKey: operatorKey(secret),
  });
  // The origin (`/s/...`) takes every viewer's every request: it bypasses Express.
  const origin = createOriginHandler({
    db,
    storage,
    redis,
    secret: playbackKey(secret),
    cacheBytes: config.originCacheBytes,
    metrics: deps.metrics,
  });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/s/')) origin(req, res);
    else {
      if (!isUpload(req)) bodyDeadline(req);
      measureApi(res, deps.metrics);
      void app(req, res);
    }
  });
  // Held LL-HLS requests end with their connections; then the origin's change subscription goes.
  server.once('close', () => void origin.close());
  server.keepAliveTimeout = 65_000;
  // Uploads of long recordings take a while: no server-wide deadline, one per request instead.
  server.requestTimeout = 0;
  return server;
}

/** Counts an API or page request once its answer is sent (or cut), by status class. */
function measureApi(res: http.ServerResponse, metrics: Metrics): void {
  const started = process.hrtime.bigint();
  res.once('close', () => {
    metrics.apiRequests.inc({ status: `${Math.floor(res.statusCode / 100)}xx` });
    metrics.apiSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  });
}

/** Only uploads stream long bodies (one request, or tus); every other request sends its (small) body at once. */
function isUpload(req: http.IncomingMessage): boolean {
  const url = req.url ?? '';
  if (req.method === 'POST') return /^\/api\/(assets|uploads)\/?(\?|$)/.test(url);
  // A tus PATCH has its own deadline: it is cut after a minute without bytes (what came is kept).
  return req.method === 'PATCH' && /^\/api\/uploads\/[^/?]+\/?(\?|$)/.test(url);
}

/** A request whose body is not complete within this long is cut (one byte a minute holds nothing). */
const BODY_DEADLINE_MS = 30_000;

function bodyDeadline(req: http.IncomingMessage): void {
  if (req.complete) return;
  const timer = setTimeout(() => {
    if (!req.complete) req.socket.destroy();
  }, BODY_DEADLINE_MS);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
}

/** `http://<host>:<port>` of a listening server; a wildcard host is named `localhost`. */
export function defaultPublicUrl(host: string, address: string | AddressInfo | null): string {
  const port = typeof address === 'object' && address ? address.port : 0;
  const name = host === '0.0.0.0' || host === '::' || host === '' ? 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** Listens with a deep accept queue: a crowd joining at once must not lose SYNs (1 s, 3 s retransmits). */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, 4096, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
