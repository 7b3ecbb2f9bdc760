import http from 'node:http';
import path from 'node:path';
import { loadConfig, type Config } from './config.ts';
import { ensureFirstAccount } from './db/accounts.ts';
import { migrateToLatest, openDatabase } from './db/database.ts';
import { createApp } from './http/app.ts';
import { bundlePlayer } from './http/player-bundle.ts';
import { createLogger } from './log.ts';
import { JobQueues } from './queue/catalogue.ts';
import { connectRedis } from './queue/redis.ts';
import { startEmbeddedRedis, type EmbeddedRedis } from './services/embedded-redis.ts';
import { WorkerSupervisor } from './services/worker-supervisor.ts';
import { LocalStorage } from './storage/local-storage.ts';
import { createOriginHandler } from './origin/origin-handler.ts';
import { PlaybackUrls } from './origin/playback-urls.ts';
import { loadSecret } from './services/secret.ts';
import { sql } from 'kysely';

export interface RunningServer {
  readonly url: string;
  readonly redisUrl: string;
  /** Set on first start when no ONAIR_API_KEY was given. */
  readonly generatedApiKey: string | undefined;
  workerPids(): number[];
  close(): Promise<void>;
}

/**
 * The all-in-one server: HTTP API and origin, plus worker processes, plus (when REDIS_URL is
 * unset) a private redis-server. Everything it starts, it stops. Worker processes get `env` (the
 * environment `config` was parsed from) so they read the same settings.
 */
export async function startServer(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningServer> {
  const log = createLogger(config.logLevel, { role: 'server' });
  let embedded: EmbeddedRedis | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    if (!config.redisUrl) {
      embedded = await startEmbeddedRedis({
        dir: path.join(config.dataDir, 'redis'),
        binary: config.redisServerPath,
      });
      cleanups.push(() => embedded!.stop());
      log.info('embedded redis started', { url: embedded.url });
    }
    const redisUrl = config.redisUrl ?? embedded!.url;

    const db = openDatabase(config);
    cleanups.push(() => db.destroy());
    await migrateToLatest(db);
    const { generatedKey } = await ensureFirstAccount(db, config.apiKey);

    const storage = new LocalStorage(path.join(config.dataDir, 'media'));
    const redis = connectRedis(redisUrl);
    cleanups.push(() => Promise.resolve(redis.disconnect()));
    const queues = new JobQueues(redis);
    cleanups.push(() => queues.close());

    // Uploads accepted while the queue was unreachable, or before a crash, get their job now.
    await queues.schedule('retention-sweep', {}, 3600_000);
    const secret = loadSecret(config.secret, config.dataDir);

    const unfinished = await db
      .selectFrom('assets')
      .select('id')
      .where('status', 'in', ['uploaded', 'processing'])
      .execute();
    for (const { id } of unfinished) await queues.add('transcode-vod', { assetId: id }, id);

    const app = createApp({
      config,
      db,
      storage,
      queues,
      log,
      playerBundle: await bundlePlayer(path.resolve(import.meta.dirname, '..')),
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A deep accept queue: a crowd joining at once must not lose SYNs (1 s and 3 s retransmits).
      server.listen(config.port, config.host, 4096, resolve);
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://127.0.0.1:${port}`;

    const supervisor = new WorkerSupervisor(
      config.workers,
      { ...env, REDIS_URL: redisUrl, DATA_DIR: config.dataDir },
      log,
    );
    supervisor.start();
    cleanups.push(() => supervisor.stop());
    log.info('onair listening', { url, workers: config.workers });

    let closing: Promise<void> | undefined;
    return {
      url,
      redisUrl,
      generatedApiKey: generatedKey,
      workerPids: () => supervisor.pids(),
      close() {
        closing ??= (async () => {
          // Reverse order: workers, HTTP, queues, database, then redis.
          for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
        })();
        return closing;
      },
    };
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const server = await startServer(config);
  if (server.generatedApiKey) {
    process.stdout.write(
      `\nFirst start: your API key is\n\n  ${server.generatedApiKey}\n\nIt is shown only this once (only its hash is stored). Export it as ONAIR_API_KEY for the CLI.\n\n`,
    );
  }
  process.stdout.write(`onair is up at ${config.publicUrl ?? server.url}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
