import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { createOriginHandler } from '../origin/origin-handler.ts';
import { PlaybackUrls } from '../origin/playback-urls.ts';
import { playbackKey } from '../origin/tokens.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Storage } from '../storage/storage.ts';
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
}

/** Each /healthz check gets this long: a load balancer's probe must get an answer, 200 or 503. */
const HEALTH_CHECK_MS = 500;

/** A registration waits at most this long for the shared rate counter before answering 503. */
const RATE_LIMIT_MS = 1000;

/** True if `check` resolves within `ms`; false if it fails or takes longer (it is left to finish). */
async function answersWithin(ms: number, check: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      check().then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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
    health: async () => {
      const [redisUp, databaseUp] = await Promise.all([
        // Not connected: say so at once. A command would wait in ioredis's offline queue until
        // Redis is back (workers' connections never give up), and /healthz would hang with it.
        redis.status === 'ready' ? answersWithin(HEALTH_CHECK_MS, () => redis.ping()) : false,
        answersWithin(HEALTH_CHECK_MS, () => sql`select 1`.execute(db)),
      ]);
      return { redis: redisUp, database: databaseUp };
    },
  });
  // The origin (`/s/...`) takes every viewer's every request: it bypasses Express.
  const origin = createOriginHandler({
    db,
    storage,
    redis,
    secret: playbackKey(secret),
    cacheBytes: config.originCacheBytes,
  });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/s/')) origin(req, res);
    else {
      if (!isUpload(req)) bodyDeadline(req);
      void app(req, res);
    }
  });
  server.keepAliveTimeout = 65_000;
  // Uploads of long recordings take a while: no server-wide deadline, one per request instead.
  server.requestTimeout = 0;
  return server;
}

/** Only uploads stream long bodies; every other request sends its (small) body at once. */
function isUpload(req: http.IncomingMessage): boolean {
  return req.method === 'POST' && /^\/api\/assets\/?(\?|$)/.test(req.url ?? '');
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
