import { startS3Server } from '../helpers/s3.ts';
import { TEST_BUCKET } from '../helpers/backends.ts';

/**
 * Vitest global setup: with ONAIR_TEST_STORAGE=s3, one S3-compatible server (s3rver, a process of
 * its own) for the whole run, with one bucket; every test onair gets a prefix of its own in it
 * (`test/helpers/backends.ts`). Test files run in processes forked after this, so they inherit
 * ONAIR_TEST_S3_ENDPOINT.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.ONAIR_TEST_STORAGE !== 's3') return undefined;
  const server = await startS3Server();
  await server.createBucket(TEST_BUCKET);
  process.env.ONAIR_TEST_S3_ENDPOINT = server.endpoint;
  return () => server.stop();
}
