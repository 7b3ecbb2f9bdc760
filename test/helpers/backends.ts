import crypto from 'node:crypto';
import path from 'node:path';
import { s3Env } from './s3.ts';

/** The bucket the global setup creates when the suite runs on S3. */
export const TEST_BUCKET = 'onair-test';

/**
 * Which storage the tests run onair on: `ONAIR_TEST_STORAGE=s3` (the s3rver the global setup
 * started, `test/setup/backends.ts`) or local disk (unset or `local`). Asked for and missing is a
 * failure, never a silent fallback.
 */
export function testStorageKind(): 'local' | 's3' {
  const wanted = process.env.ONAIR_TEST_STORAGE ?? '';
  if (wanted === '' || wanted === 'local') return 'local';
  if (wanted === 's3') return 's3';
  throw new Error(`ONAIR_TEST_STORAGE must be "s3" or "local" (or unset), not "${wanted}"`);
}

/**
 * The storage settings of a test onair using `dataDir`: none (local disk under DATA_DIR, and any
 * S3_* of the shell blanked), or the shared test bucket under a prefix derived from `dataDir`, so
 * a server restarted on the same DATA_DIR finds its own media again.
 */
export function testStorageEnv(dataDir: string): Record<string, string> {
  if (testStorageKind() === 'local') return { S3_BUCKET: '', S3_ENDPOINT: '', S3_PREFIX: '' };
  const endpoint = process.env.ONAIR_TEST_S3_ENDPOINT;
  if (!endpoint) {
    throw new Error(
      'ONAIR_TEST_STORAGE=s3 but no S3 server was started: run the suite with vitest (its global setup starts s3rver).',
    );
  }
  const prefix = `t-${crypto.createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`;
  return s3Env({ endpoint }, TEST_BUCKET, prefix);
}
