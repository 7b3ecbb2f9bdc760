import { loadConfig } from './config.ts';
import { openDatabase } from './db/database.ts';
import { closeServer, createHttpServer, listen } from './http/server.ts';
import { createLogger } from './log.ts';
import { JobQueues } from './queue/catalogue.ts';
import { Metrics, MetricsPublisher } from './services/metrics.ts';
import { connectRedis, RedisOutageLog } from './queue/redis.ts';
import { openStorage } from './storage/open-storage.ts';

/**
 * An extra HTTP process (HTTP_PROCESSES > 1): the cluster primary in `src/main.ts` has already
 * migrated the database and chosen the secret; this process only serves. Cluster workers share
 * the primary's listening port.
 */
async function main(): Promise<void> {
  // What this process creates under DATA_DIR is its alone (0600 / 0700).
  process.umask(0o077);
  const config = loadConfig();
  if (!config.redisUrl || !config.secret)
    throw new Error('http worker started without REDIS_URL or ONAIR_SECRET');
  const log = createLogger(config.logLevel, { role: 'http', pid: process.pid });
  const db = openDatabase(config);
  const storage = await openStorage(config);
  const outages = new RedisOutageLog(log);
  const redis = connectRedis(config.redisUrl, outages);
  const queues = new JobQueues(redis, outages.onError);
  const metrics = new Metrics('api');
  const server = await createHttpServer({
    config,
    db,
    storage,
    redis,
    queues,
    secret: config.secret,
    log,
    metrics,
  });
  await listen(server, config.port, config.host);
  const publisher = new MetricsPublisher(metrics, redis, log);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await closeServer(server);
      await publisher.stop();
      await queues.close();
      redis.disconnect();
      await db.destroy();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
