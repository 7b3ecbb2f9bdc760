import http from 'node:http';
import path from 'node:path';
import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import type { Logger } from '../log.ts';
import { createOriginHandler } from '../origin/origin-handler.ts';
import { PlaybackUrls } from '../origin/playback-urls.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Storage } from '../storage/storage.ts';
import { createApp } from './app.ts';
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

/** The HTTP server of one process: the origin on `/s/` (outside Express), the app for the rest. */
export async function createHttpServer(deps: HttpServerDeps): Promise<http.Server> {
  const { config, db, storage, redis, secret } = deps;
  const app = createApp({
    config,
    db,
    storage,
    redis,
    queues: deps.queues,
    log: deps.log,
    playerBundle: await bundlePlayer(path.resolve(import.meta.dirname, '../..')),
    secret,
    urls: new PlaybackUrls(secret, config.playbackTokenTtlSeconds),
    // Fixed one-window counter in the shared Redis, so every API node counts together.
    rateLimit: async (key, limit, windowSeconds) => {
      const bucket = `rl:${key}:${Math.floor(Date.now() / 1000 / windowSeconds)}`;
      const [[, count]] = (await redis.multi().incr(bucket).expire(bucket, windowSeconds).exec()) as [
        [null, number],
      ];
      return count <= limit;
    },
    health: async () => ({
      redis: await redis.ping().then(
        (r) => r === 'PONG',
        () => false,
      ),
      database: await sql`select 1`.execute(db).then(
        () => true,
        () => false,
      ),
    }),
  });
  // The origin (`/s/...`) takes every viewer's every request: it bypasses Express.
  const origin = createOriginHandler({ db, storage, secret, cacheBytes: config.originCacheBytes });
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/s/')) origin(req, res);
    else void app(req, res);
  });
  server.keepAliveTimeout = 65_000;
  // Uploads of long recordings take a while; do not cut them off.
  server.requestTimeout = 0;
  return server;
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
