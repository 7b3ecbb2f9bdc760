import path from 'node:path';
import type { Config } from '../config.ts';
import { LocalStorage } from './local-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { Storage } from './storage.ts';

/**
 * The media storage the configuration asks for: the S3 bucket when S3_BUCKET is set, else local
 * disk under DATA_DIR/media. Async because a bucket is checked before anything relies on it
 * (HeadBucket): a missing bucket, refused credentials or an unreachable endpoint fail start-up
 * with a message naming the setting to fix, not the first upload.
 */
export async function openStorage(config: Pick<Config, 'dataDir' | 's3'>): Promise<Storage> {
  if (!config.s3) return new LocalStorage(path.join(config.dataDir, 'media'));
  const storage = new S3Storage(config.s3);
  try {
    await storage.check();
  } catch (err) {
    storage.close();
    throw err;
  }
  return storage;
}
