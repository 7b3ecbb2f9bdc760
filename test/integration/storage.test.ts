import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { openStorage } from '../../src/storage/open-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { ObjectTooLargeError, type Storage } from '../../src/storage/storage.ts';
import {
  S3RVER_CREDENTIALS,
  S3RVER_REGION,
  startS3Server,
  useS3rverCredentials,
  type S3Server,
} from '../helpers/s3.ts';

const MiB = 1024 * 1024;
/** Over S3's 5 MiB part size, so the S3 adapter uploads it in three parts. */
const BIG = crypto.randomBytes(11 * MiB);
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
/** Bytes as text to compare: `toEqual` on a Buffer walks it byte by byte, slowly. */
const hex = (b: Buffer | undefined) => b?.toString('hex');

/** `data` as a stream of 64 KiB chunks, as an HTTP upload arrives. */
function bodyOf(data: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
    })(),
  );
}

/** A body whose source dies after `failAfter` bytes (a client that disconnects mid-upload). */
function failingBody(data: Buffer, failAfter: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= failAfter) {
        this.destroy(new Error('source cut'));
        return;
      }
      const chunk = data.subarray(sent, Math.min(sent + 64 * 1024, failAfter));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** Reads `stream` expecting it to fail; resolves with the error. */
async function streamError(stream: Readable): Promise<NodeJS.ErrnoException> {
  try {
    await buffer(stream);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('the stream did not fail');
}

interface Opened {
  storage: Storage;
  /** A folder for `localCopy` that does not exist yet. */
  scratchDir: string;
  close(): Promise<void>;
}

/** What every Storage adapter must do, whatever is behind it. */
function storageContract(open: () => Promise<Opened>): void {
  let storage: Storage;
  let scratchDir: string;
  let opened: Opened | undefined;
  beforeAll(async () => {
    opened = await open();
    ({ storage, scratchDir } = opened);
  });
  afterAll(() => opened?.close());

  it('streams a multi-megabyte body in and out whole', async () => {
    expect(await storage.putStream('rt/big.bin', bodyOf(BIG), { contentType: 'video/mp4' })).toEqual({
      bytes: BIG.length,
    });
    expect((await storage.stat('rt/big.bin'))?.size).toBe(BIG.length);
    expect(sha256(await buffer(storage.read('rt/big.bin')))).toBe(sha256(BIG));
    // Across the boundary of the first two parts.
    const range = { start: 5 * MiB - 10, end: 5 * MiB + 9 };
    expect(hex(await buffer(storage.read('rt/big.bin', range)))).toBe(
      hex(BIG.subarray(range.start, range.end + 1)),
    );
  });

  it('puts and reads small objects from memory', async () => {
    await storage.putBytes('small/index.m3u8', '#EXTM3U\n', { contentType: 'application/vnd.apple.mpegurl' });
    expect(await storage.readText('small/index.m3u8')).toBe('#EXTM3U\n');
    const bytes = crypto.randomBytes(3000);
    await storage.putBytes('small/poster.jpg', bytes);
    expect(hex(await storage.readBytes('small/poster.jpg'))).toBe(hex(bytes));
    await storage.putBytes('small/index.m3u8', '#EXTM3U\n#EXT-X-VERSION:7\n');
    expect(await storage.readText('small/index.m3u8')).toBe('#EXTM3U\n#EXT-X-VERSION:7\n');
    await storage.putBytes('small/empty', '');
    expect(await storage.readBytes('small/empty')).toEqual(Buffer.alloc(0));
    expect((await storage.stat('small/empty'))?.size).toBe(0);
  });

  it('answers for missing objects: undefined, an empty list, or an ENOENT error', async () => {
    expect(await storage.readText('missing/a.txt')).toBeUndefined();
    expect(await storage.readBytes('missing/a.txt')).toBeUndefined();
    expect(await storage.stat('missing/a.txt')).toBeUndefined();
    expect((await streamError(storage.read('missing/a.txt'))).code).toBe('ENOENT');
    expect((await streamError(storage.read('missing/a.txt', { start: 0, end: 9 }))).code).toBe('ENOENT');
    await expect(storage.localCopy('missing/a.txt', scratchDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.list('missing')).toEqual([]);
    await storage.deletePrefix('missing');
  });

  it('reads inclusive byte ranges', async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await storage.putBytes('range/data.bin', data);
    const read = async (start: number, end: number) =>
      hex(await buffer(storage.read('range/data.bin', { start, end })));
    expect(await read(0, 9)).toBe(hex(data.subarray(0, 10)));
    expect(await read(400, 599)).toBe(hex(data.subarray(400, 600)));
    expect(await read(999, 999)).toBe(hex(data.subarray(999)));
  });

  it('stats size, time and an etag that changes with the bytes', async () => {
    const before = Date.now();
    await storage.putBytes('stat/x.txt', 'aaaa');
    const first = await storage.stat('stat/x.txt');
    expect(first?.size).toBe(4);
    expect(first?.etag).toMatch(/^".+"$/);
    // Some servers keep whole seconds.
    expect(first!.modified.getTime()).toBeGreaterThanOrEqual(before - 2000);
    expect(first!.modified.getTime()).toBeLessThanOrEqual(Date.now() + 2000);
    await storage.putBytes('stat/x.txt', 'bbbb');
    const second = await storage.stat('stat/x.txt');
    expect(second?.size).toBe(4);
    expect(second?.etag).not.toBe(first?.etag);
    expect((await storage.stat('stat/x.txt'))?.etag).toBe(second?.etag);
  });

  it('lists every key under a folder, sorted, and nothing beside it', async () => {
    for (const key of ['ls/a/b/1', 'ls/a/b/2/x', 'ls/a/b/0', 'ls/a/bc/x', 'ls/a/b.txt']) {
      await storage.putBytes(key, key);
    }
    expect(await storage.list('ls/a/b')).toEqual(['ls/a/b/0', 'ls/a/b/1', 'ls/a/b/2/x']);
    expect(await storage.list('ls/a')).toEqual([
      'ls/a/b.txt',
      'ls/a/b/0',
      'ls/a/b/1',
      'ls/a/b/2/x',
      'ls/a/bc/x',
    ]);
    // An object is not a folder.
    expect(await storage.list('ls/a/b/1')).toEqual([]);
  });

  it('deletes a folder, or one object, and nothing beside it', async () => {
    for (const key of ['del/f/1', 'del/f/sub/2', 'del/fx/3', 'del/one', 'del/one2']) {
      await storage.putBytes(key, key);
    }
    await storage.deletePrefix('del/f');
    expect(await storage.list('del')).toEqual(['del/fx/3', 'del/one', 'del/one2']);
    await storage.deletePrefix('del/one');
    expect(await storage.list('del')).toEqual(['del/fx/3', 'del/one2']);
    expect(await storage.stat('del/one')).toBeUndefined();
  });

  it('refuses a body over maxBytes and leaves nothing visible', async () => {
    await expect(
      storage.putStream('lim/small.bin', bodyOf(BIG.subarray(0, 1000)), { maxBytes: 100 }),
    ).rejects.toBeInstanceOf(ObjectTooLargeError);
    // Past the first part: on S3 the multipart upload has begun and must be abandoned.
    await expect(storage.putStream('lim/big.bin', bodyOf(BIG), { maxBytes: 6 * MiB })).rejects.toBeInstanceOf(
      ObjectTooLargeError,
    );
    expect(await storage.stat('lim/small.bin')).toBeUndefined();
    expect(await storage.stat('lim/big.bin')).toBeUndefined();
    expect(await storage.list('lim')).toEqual([]);
    // Exactly the limit is allowed.
    expect(await storage.putStream('lim/exact.bin', bodyOf(BIG.subarray(0, 100)), { maxBytes: 100 })).toEqual(
      {
        bytes: 100,
      },
    );
    // A refused replacement leaves the previous object as it was.
    await storage.putBytes('lim/kept.txt', 'previous');
    await expect(
      storage.putStream('lim/kept.txt', bodyOf(BIG), { maxBytes: 6 * MiB }),
    ).rejects.toBeInstanceOf(ObjectTooLargeError);
    expect(await storage.readText('lim/kept.txt')).toBe('previous');
    expect(await storage.list('lim')).toEqual(['lim/exact.bin', 'lim/kept.txt']);
  });

  it('leaves nothing visible when the body fails mid-way', async () => {
    await expect(storage.putStream('fail/small.bin', failingBody(BIG, 100 * 1024))).rejects.toThrow(
      'source cut',
    );
    await expect(storage.putStream('fail/big.bin', failingBody(BIG, 7 * MiB))).rejects.toThrow('source cut');
    expect(await storage.stat('fail/small.bin')).toBeUndefined();
    expect(await storage.stat('fail/big.bin')).toBeUndefined();
    expect(await storage.list('fail')).toEqual([]);
  });

  it('gives a local file with the bytes for programs that need one', async () => {
    const data = crypto.randomBytes(200_000);
    await storage.putBytes('copy/clip.mp4', data);
    const copy = await storage.localCopy('copy/clip.mp4', scratchDir);
    expect(path.isAbsolute(copy.path)).toBe(true);
    expect(sha256(fs.readFileSync(copy.path))).toBe(sha256(data));
    expect(fs.statSync(copy.path).mode & 0o777).toBe(0o600);
    await copy.release();
    if (storage.kind === 's3') {
      // A downloaded copy: private, in the scratch folder (made 0700), gone once released.
      expect(path.dirname(copy.path)).toBe(scratchDir);
      expect(fs.statSync(scratchDir).mode & 0o777).toBe(0o700);
      expect(fs.existsSync(copy.path)).toBe(false);
    } else {
      // The stored file itself: releasing it must not delete the object.
      expect(fs.existsSync(copy.path)).toBe(true);
    }
    expect(sha256((await storage.readBytes('copy/clip.mp4'))!)).toBe(sha256(data));
  });

  it('refuses keys that are not clean relative paths', async () => {
    for (const bad of ['../x', '/abs', 'a//b', '', 'a/', 'a/./b', 'a/../b', '..', 'a\u0000b', 'a\nb']) {
      await expect(storage.putBytes(bad, 'x'), bad).rejects.toThrow(/invalid storage key/);
      await expect(storage.putStream(bad, bodyOf(Buffer.from('x'))), bad).rejects.toThrow(
        /invalid storage key/,
      );
      await expect(storage.readText(bad), bad).rejects.toThrow(/invalid storage key/);
      await expect(storage.stat(bad), bad).rejects.toThrow(/invalid storage key/);
      await expect(storage.list(bad), bad).rejects.toThrow(/invalid storage key/);
      await expect(storage.deletePrefix(bad), bad).rejects.toThrow(/invalid storage key/);
      await expect(storage.localCopy(bad, scratchDir), bad).rejects.toThrow(/invalid storage key/);
      expect(() => storage.read(bad), bad).toThrow(/invalid storage key/);
    }
  });
}

describe('LocalStorage', () => {
  let root: string;
  storageContract(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-storage-'));
    root = path.join(dir, 'media');
    return Promise.resolve({
      storage: new LocalStorage(root),
      scratchDir: path.join(dir, 'scratch'),
      close: () => fs.promises.rm(dir, { recursive: true, force: true }),
    });
  });

  it('writes private files and folders, and leaves no temporary file behind', async () => {
    const storage = new LocalStorage(root);
    await storage.putBytes('modes/a/b.txt', 'x');
    await storage.putStream('modes/a/c.bin', bodyOf(Buffer.alloc(1000)));
    expect(fs.statSync(path.join(root, 'modes/a')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(root, 'modes/a/b.txt')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(root, 'modes/a/c.bin')).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.join(root, 'modes/a')).sort()).toEqual(['b.txt', 'c.bin']);
  });
});

describe('S3Storage on s3rver', () => {
  const BUCKET = 'onair-contract';
  let server: S3Server;
  let restoreCredentials: (() => void) | undefined;
  let scratch: string;
  const opened: S3Storage[] = [];
  const s3 = (opts: { bucket?: string; prefix?: string; pageSize?: number; endpoint?: string } = {}) => {
    const storage = new S3Storage({
      bucket: opts.bucket ?? BUCKET,
      endpoint: opts.endpoint ?? server.endpoint,
      region: S3RVER_REGION,
      forcePathStyle: true,
      prefix: opts.prefix,
      pageSize: opts.pageSize,
    });
    opened.push(storage);
    return storage;
  };

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-s3-scratch-'));
    server = await startS3Server();
    await server.createBucket(BUCKET);
    restoreCredentials = useS3rverCredentials();
  });
  afterAll(async () => {
    for (const storage of opened) storage.close();
    restoreCredentials?.();
    await server?.stop();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  storageContract(() =>
    Promise.resolve({
      // Its own folder of the bucket, as an install sharing the bucket would have.
      storage: s3({ prefix: 'contract' }),
      scratchDir: path.join(scratch, 'copies'),
      close: () => Promise.resolve(),
    }),
  );

  it('pages through long listings and deletes them in batches', async () => {
    const storage = s3({ prefix: 'paged', pageSize: 2 });
    const keys = ['pg/0', 'pg/1', 'pg/2', 'pg/3/x', 'pg/4', 'pg/5', 'pg/6'];
    await Promise.all(keys.map((key) => storage.putBytes(key, key)));
    await storage.putBytes('pg2/kept', 'x');
    expect(await storage.list('pg')).toEqual(keys);
    await storage.deletePrefix('pg');
    expect(await storage.list('pg')).toEqual([]);
    expect(await storage.list('pg2')).toEqual(['pg2/kept']);
  });

  it('reports a failed upload as such, and stops reading the body', async () => {
    const endless = new Readable({
      read() {
        this.push(BIG.subarray(0, 64 * 1024));
      },
    });
    await expect(s3({ bucket: 'not-created' }).putStream('x/y.bin', endless)).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
    expect(endless.destroyed).toBe(true);
  });

  it('keeps installs sharing a bucket apart with a prefix', async () => {
    const one = s3({ prefix: 'one' });
    const two = s3({ prefix: 'team/two' });
    await one.putBytes('assets/a/master.m3u8', 'one');
    await two.putBytes('assets/a/master.m3u8', 'two');
    expect(await one.readText('assets/a/master.m3u8')).toBe('one');
    expect(await two.list('assets')).toEqual(['assets/a/master.m3u8']);
    await one.deletePrefix('assets');
    expect(await two.readText('assets/a/master.m3u8')).toBe('two');
    expect(await s3().list('team')).toEqual(['team/two/assets/a/master.m3u8']);
  });

  it('stores the content type it is given', async () => {
    const storage = s3({ prefix: 'types' });
    await storage.putBytes('p/index.m3u8', '#EXTM3U\n', { contentType: 'application/vnd.apple.mpegurl' });
    await storage.putStream('p/seg.m4s', bodyOf(Buffer.alloc(100)), { contentType: 'video/iso.segment' });
    const client = new S3Client({
      endpoint: server.endpoint,
      region: S3RVER_REGION,
      forcePathStyle: true,
      credentials: { ...S3RVER_CREDENTIALS },
    });
    try {
      const head = (Key: string) => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key }));
      expect((await head('types/p/index.m3u8')).ContentType).toBe('application/vnd.apple.mpegurl');
      expect((await head('types/p/seg.m4s')).ContentType).toBe('video/iso.segment');
    } finally {
      client.destroy();
    }
  });

  it('check() says which setting to fix, without the secret', async () => {
    await s3().check();
    // A secret to look for in the messages (s3rver takes any).
    const secret = 'do-not-print-this-secret-4f9c2a';
    const saved = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      const failure = (storage: S3Storage) =>
        storage.check().then(
          () => new Error('check() passed'),
          (err: unknown) => err as Error,
        );
      const missing = await failure(s3({ bucket: 'no-such-bucket' }));
      expect(missing.message).toMatch(/"no-such-bucket".*does not exist.*S3_BUCKET/);
      // A port nobody listens on.
      const closed = await new Promise<number>((resolve) => {
        const probe = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as net.AddressInfo;
          probe.close(() => resolve(port));
        });
      });
      const unreachable = await failure(s3({ endpoint: `http://127.0.0.1:${closed}` }));
      expect(unreachable.message).toMatch(/Cannot reach.*127\.0\.0\.1.*S3_ENDPOINT/);
      for (const err of [missing, unreachable]) expect(err.message).not.toContain(secret);
    } finally {
      process.env.AWS_SECRET_ACCESS_KEY = saved;
    }
  });

  it('openStorage picks S3 when S3_BUCKET is set, and checks the bucket first', async () => {
    const base = { DATA_DIR: scratch };
    const storage = await openStorage(
      loadConfig({ ...base, S3_BUCKET: BUCKET, S3_ENDPOINT: server.endpoint, S3_PREFIX: 'opened' }),
    );
    expect(storage.kind).toBe('s3');
    (storage as S3Storage).close();
    await expect(
      openStorage(loadConfig({ ...base, S3_BUCKET: 'not-created', S3_ENDPOINT: server.endpoint })),
    ).rejects.toThrow(/does not exist/);
    const local = await openStorage(loadConfig(base));
    expect(local.kind).toBe('local');
    expect(fs.statSync(path.join(scratch, 'media')).isDirectory()).toBe(true);
  });
});

describe('S3 settings', () => {
  it('are off without S3_BUCKET', () => {
    expect(loadConfig({}).s3).toBeUndefined();
  });

  it('parse bucket, endpoint, region, path style and prefix', () => {
    const s3 = loadConfig({
      S3_BUCKET: 'media',
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_PREFIX: '/team/onair/',
    }).s3;
    expect(s3).toEqual({
      bucket: 'media',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      prefix: 'team/onair',
    });
    expect(Object.isFrozen(s3)).toBe(true);
    expect(loadConfig({ S3_BUCKET: 'media', S3_REGION: 'eu-west-3' }).s3).toEqual({
      bucket: 'media',
      endpoint: undefined,
      region: 'eu-west-3',
      forcePathStyle: false,
      prefix: undefined,
    });
    const virtualHosted = loadConfig({
      S3_BUCKET: 'media',
      S3_ENDPOINT: 'https://s3.example.com',
      S3_FORCE_PATH_STYLE: 'false',
    });
    expect(virtualHosted.s3?.forcePathStyle).toBe(false);
  });

  it('refuse what would not work', () => {
    const refused = (env: Record<string, string>, setting: string) =>
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(new RegExp(`${setting}:`));
    refused({ S3_BUCKET: 'media', S3_ENDPOINT: 'ftp://files.example.com' }, 'S3_ENDPOINT');
    refused({ S3_BUCKET: 'media', S3_ENDPOINT: 'minio:9000' }, 'S3_ENDPOINT');
    refused({ S3_BUCKET: 'media', S3_ENDPOINT: 'https://key:secret@s3.example.com' }, 'S3_ENDPOINT');
    refused({ S3_ENDPOINT: 'http://127.0.0.1:9000' }, 'S3_BUCKET');
    refused({ S3_BUCKET: 'media', S3_PREFIX: 'a/../b' }, 'S3_PREFIX');
    refused({ S3_BUCKET: 'media', S3_FORCE_PATH_STYLE: 'yes' }, 'S3_FORCE_PATH_STYLE');
    refused({ S3_BUCKET: 'x' }, 'S3_BUCKET');
  });
});
