import crypto from 'node:crypto';
import { createPostgresDatabase, postgresBaseUrl } from '../helpers/database.ts';
import { s3Env, startS3Server } from '../helpers/s3.ts';

/** The two ways onair stores things: one machine's defaults, and the scale-out engines. */
export type BenchBackend = 'sqlite+local' | 'postgres+s3';
export const BENCH_BACKENDS: readonly BenchBackend[] = ['sqlite+local', 'postgres+s3'];

export interface BackendEnv {
  /** Settings to add to onair's environment (empty for the defaults). */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * Starts what `backend` needs: nothing for the defaults; for scale-out an S3-compatible server
 * (s3rver, its own process, on loopback) with a bucket, and a fresh PostgreSQL database on the
 * server at ONAIR_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
export async function startBackend(backend: BenchBackend): Promise<BackendEnv> {
  if (backend === 'sqlite+local') return { env: { DATABASE_URL: '', S3_BUCKET: '' }, stop: async () => {} };
  const s3 = await startS3Server();
  await s3.createBucket('onair-bench');
  let database: ReturnType<typeof createPostgresDatabase>;
  try {
    database = createPostgresDatabase();
  } catch (err) {
    await s3.stop();
    throw new Error(`the postgres+s3 run needs PostgreSQL at ${postgresBaseUrl()}`, { cause: err });
  }
  return {
    // A shared database means scale-out: every role signs with one configured secret.
    env: {
      ...s3Env(s3, 'onair-bench'),
      DATABASE_URL: database.url,
      ONAIR_SECRET: crypto.randomBytes(32).toString('base64url'),
    },
    async stop() {
      database.drop();
      await s3.stop();
    },
  };
}
