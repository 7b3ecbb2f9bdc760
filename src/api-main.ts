import { loadConfig } from './config.ts';
import { runServer } from './main.ts';

/**
 * The API and origin alone (`npm run api`), for scale-out: no workers, no ingest, no embedded
 * Redis. Any number may run behind a load balancer; they share Redis, the database (PostgreSQL),
 * storage (S3) and ONAIR_SECRET with the workers and ingest, and keep nothing of their own on disk.
 */
const config = loadConfig();
if (!config.redisUrl) {
  console.error(
    'REDIS_URL is required to run the api on its own (npm start runs every role with its own Redis).',
  );
  process.exit(1);
}
runServer({ ...config, workers: 0, ingest: false }).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
