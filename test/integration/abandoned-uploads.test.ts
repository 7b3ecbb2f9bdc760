import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/db/accounts.ts';
import { insertAsset } from '../../src/db/assets.ts';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { removeAbandonedUploads } from '../../src/http/assets-routes.ts';
import type { Logger } from '../../src/log.ts';
import { sourceKey } from '../../src/media/layout.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { S3RVER_CREDENTIALS, S3RVER_REGION, startS3Server } from '../helpers/s3.ts';

/**
 * On shared storage, a source whose row never came (its API node died between the two) is removed
 * at start-up only once it is old enough that no other node can still be about to write the row.
 */
const log: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => log };
let s3: Awaited<ReturnType<typeof startS3Server>>;
let db: Db;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-orphans-'));
  s3 = await startS3Server();
  await s3.createBucket('orphans');
  db = openDatabase({ dataDir: work });
  await migrateToLatest(db);
});

afterAll(async () => {
  await db?.destroy();
  await s3?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('uploads cut short, on S3', () => {
  it('keeps a fresh source without a row and any source with one; removes an orphan an hour old', async () => {
    const storage = new S3Storage({
      bucket: 'orphans',
      endpoint: s3.endpoint,
      region: S3RVER_REGION,
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
    });
    const account = await createAccount(db, 'Orphans');
    await insertAsset(db, {
      id: 'as_withrow00000000',
      accountId: account.id,
      title: 'kept',
      sourceKey: sourceKey('as_withrow00000000'),
      sourceBytes: 5,
      sourceName: undefined,
    });
    for (const id of ['as_withrow00000000', 'as_orphan000000000'])
      await storage.putStream(sourceKey(id), Readable.from([Buffer.from('bytes')]));

    await removeAbandonedUploads(db, storage, log);
    expect(await storage.list('sources')).toEqual([
      sourceKey('as_orphan000000000'),
      sourceKey('as_withrow00000000'),
    ]);

    await removeAbandonedUploads(db, storage, log, Date.now() + 2 * 3600_000);
    expect(await storage.list('sources')).toEqual([sourceKey('as_withrow00000000')]);
    storage.close();
  });
});
