import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { assertValidKey } from './keys.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './local-storage.ts';
import { ObjectTooLargeError, type LocalCopy, type Storage, type StoredObject } from './storage.ts';

export interface S3StorageOptions {
  readonly bucket: string;
  /** An S3-compatible server (`https://minio.example:9000`); unset means AWS S3 itself. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most S3-compatible servers). */
  readonly forcePathStyle: boolean;
  /** Keys live under `<prefix>/` in the bucket, so several installs can share one bucket. */
  readonly prefix?: string | undefined;
  /** Keys per listing page and per delete request: S3's maximum (1000) unless smaller (tests). */
  readonly pageSize?: number | undefined;
  /** Access keys; undefined: the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles). */
  readonly credentials?:
    | { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string }
    | undefined;
}

/** S3's smallest multipart part (except the last) and largest part count. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PARTS = 10_000;
/** ListObjectsV2 returns, and DeleteObjects takes, at most this many keys per request. */
const MAX_PAGE = 1000;

function isNotFound(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}

/** Missing objects fail as they do on local disk (`code: 'ENOENT'`), so callers check one thing. */
function notFoundError(key: string, cause: unknown): Error {
  return Object.assign(new Error(`no such object: ${key}`, { cause }), { code: 'ENOENT' });
}

/** The network error code behind an SDK failure (Node 20 wraps dual-stack connect errors in an AggregateError). */
function networkCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: { code?: unknown }[] };
  const code = typeof e.code === 'string' ? e.code : e.errors?.[0]?.code;
  return typeof code === 'string' ? code : undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
]);

/**
 * Media in an S3-compatible bucket. Puts are atomic as S3 makes them: a streamed body goes up as a
 * multipart upload that becomes visible only when completed, and is aborted on failure. Bodies are
 * never held whole in memory: at most a few parts of `MIN_PART_BYTES` are in flight.
 */
export class S3Storage implements Storage {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly bucket: string;
  /** `''` or `<prefix>/`: what bucket keys start with. */
  private readonly root: string;
  private readonly pageSize: number;

  constructor(private readonly opts: S3StorageOptions) {
    if (opts.prefix) assertValidKey(opts.prefix);
    this.bucket = opts.bucket;
    this.root = opts.prefix ? `${opts.prefix}/` : '';
    this.pageSize = Math.min(MAX_PAGE, Math.max(1, opts.pageSize ?? MAX_PAGE));
    this.client = new S3Client({
      region: opts.region,
      // A copy: the SDK writes to the object it is given.
      ...(opts.credentials ? { credentials: { ...opts.credentials } } : {}),
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle,
      // The SDK's default (checksums on every request, aws-chunked streaming bodies) is not
      // understood by every S3-compatible server: s3rver stores the chunk framing as object bytes.
      // Checksums only where an operation requires them work with AWS S3 too.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Fail fast on an endpoint that does not answer instead of waiting for the OS's TCP timeout.
      requestHandler: { connectionTimeout: 10_000 },
    });
  }

  /** The bucket key for a storage key. */
  private objectKey(key: string): string {
    assertValidKey(key);
    return this.root + key;
  }

  /** The bucket key prefix for a folder: `<root><prefix>/`. */
  private folderKey(prefix: string): string {
    return `${this.objectKey(prefix)}/`;
  }

  /** Where the bucket is, for messages (never with credentials, even if someone put them in the URL). */
  private where(): string {
    if (!this.opts.endpoint) return `AWS S3 (region ${this.opts.region})`;
    const url = new URL(this.opts.endpoint);
    url.username = '';
    url.password = '';
    return url.toString();
  }

  /**
   * Checks the bucket is there and these credentials may use it (HeadBucket); throws an error that
   * tells a self-hoster which setting to fix. Run once at start-up.
   */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw new Error(this.describeCheckFailure(err), { cause: err });
    }
  }

  private describeCheckFailure(err: unknown): string {
    const bucket = `S3 bucket "${this.bucket}" at ${this.where()}`;
    const name = err instanceof Error ? err.name : '';
    if (name === 'CredentialsProviderError') {
      return `No S3 credentials for ${bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`;
    }
    const code = networkCode(err);
    if (name === 'TimeoutError' || (code && NETWORK_CODES.has(code))) {
      return `Cannot reach ${bucket} (${code ?? name}): check S3_ENDPOINT and that the server is running and reachable from here.`;
    }
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      if (status === 404 || name === 'NotFound' || name === 'NoSuchBucket') {
        return `The ${bucket} does not exist: create it, or correct S3_BUCKET (and S3_ENDPOINT).`;
      }
      if (status === 403) {
        return `Access denied to ${bucket}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that this key may read, write, list and delete in S3_BUCKET.`;
      }
      if (status === 301 || status === 400) {
        return `The ${bucket} refused the request (HTTP ${status}): is S3_REGION (${this.opts.region}) the bucket's region? Most S3-compatible servers also need S3_FORCE_PATH_STYLE=true.`;
      }
      return `Checking ${bucket} failed (HTTP ${status ?? '?'} ${name}): ${err.message}`;
    }
    return `Checking ${bucket} failed: ${err instanceof Error ? `${name}: ${err.message}` : String(err)}`;
  }

  async putStream(
    key: string,
    body: Readable,
    opts: { maxBytes?: number; contentType?: string } = {},
  ): Promise<{ bytes: number }> {
    const Key = this.objectKey(key);
    const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    let bytes = 0;
    // What stopped the body (the source failing, or the limit) is the error to report: when the
    // upload then fails to abort (s3rver cannot abort a multipart upload), that failure is its cause.
    let bodyError: Error | undefined;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > limit) done((bodyError ??= new ObjectTooLargeError(limit)));
        else done(null, chunk);
      },
    });
    body.on('error', (err) => (bodyError ??= err));
    counter.on('error', (err) => (bodyError ??= err));
    // Errors reach the upload through `counter`, which the pipeline destroys with the body's error.
    const feeding = pipeline(body, counter).catch(() => undefined);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: counter, ContentType: opts.contentType },
      // Parts big enough that the largest allowed body fits in S3's 10 000 parts.
      partSize: Number.isFinite(limit)
        ? Math.max(MIN_PART_BYTES, Math.ceil(limit / MAX_PARTS))
        : MIN_PART_BYTES,
      queueSize: 4,
      // On failure lib-storage aborts the multipart upload: no part of it becomes visible.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      const stoppedBy = bodyError;
      // The upload failed first (network, bucket): stop reading the body, and report the upload's error.
      if (!stoppedBy) counter.destroy();
      await feeding;
      if (!stoppedBy) throw err;
      if (err !== stoppedBy && stoppedBy.cause === undefined) stoppedBy.cause = err;
      throw stoppedBy;
    }
    await feeding;
    return { bytes };
  }

  async putBytes(key: string, body: Buffer | string, opts: { contentType?: string } = {}): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: typeof body === 'string' ? Buffer.from(body) : body,
        ContentType: opts.contentType,
      }),
    );
  }

  async readText(key: string): Promise<string | undefined> {
    return (await this.readBytes(key))?.toString('utf8');
  }

  async readBytes(key: string): Promise<Buffer | undefined> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!res.Body) return Buffer.alloc(0);
      const bytes = await res.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    const Key = this.objectKey(key);
    const out = new PassThrough();
    // A reader that goes away before the response arrives (a viewer closing the page) cancels it.
    const abort = new AbortController();
    out.once('close', () => {
      if (!out.readableEnded) abort.abort();
    });
    this.client
      .send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
        { abortSignal: abort.signal },
      )
      .then(
        (res) => {
          if (!(res.Body instanceof Readable)) {
            out.destroy(new Error(`S3 returned no readable body for ${key}`));
            return;
          }
          // pipeline destroys `out` with the body's error, and the body when `out` is destroyed.
          pipeline(res.Body, out).catch(() => undefined);
        },
        (err: unknown) => {
          if (isNotFound(err)) out.destroy(notFoundError(key, err));
          // A range that starts past the end reads nothing, as a file stream does.
          else if (err instanceof S3ServiceException && err.name === 'InvalidRange') out.end();
          else out.destroy(err instanceof Error ? err : new Error(String(err)));
        },
      );
    return out;
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const Key = this.objectKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return {
        size: res.ContentLength ?? 0,
        modified: res.LastModified ?? new Date(0),
        etag: res.ETag ?? '""',
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Bucket keys under `folder`, page by page. */
  private async *listPages(folder: string): AsyncGenerator<string[]> {
    for await (const page of this.listSizedPages(folder)) yield page.map(([key]) => key);
  }

  private async *listSizedPages(folder: string): AsyncGenerator<[string, number][]> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: folder,
          ContinuationToken: token,
          MaxKeys: this.pageSize,
        }),
      );
      yield (page.Contents ?? []).flatMap((o): [string, number][] => (o.Key ? [[o.Key, o.Size ?? 0]] : []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(prefix: string): Promise<string[]> {
    const folder = this.folderKey(prefix);
    const keys: string[] = [];
    for await (const page of this.listPages(folder)) {
      for (const key of page) keys.push(key.slice(this.root.length));
    }
    return keys.sort();
  }

  async sizes(prefix: string): Promise<Map<string, number>> {
    const out: [string, number][] = [];
    for await (const page of this.listSizedPages(this.folderKey(prefix)))
      for (const [key, size] of page) out.push([key.slice(this.root.length), size]);
    return new Map(out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const folder = this.folderKey(prefix);
    let batch = [this.objectKey(prefix)];
    for await (const page of this.listPages(folder)) {
      for (const key of page) {
        batch.push(key);
        if (batch.length === this.pageSize) {
          await this.deleteBatch(batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) await this.deleteBatch(batch);
  }

  private async deleteBatch(keys: string[]): Promise<void> {
    const res = await this.client.send(
      new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = res.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new Error(
        `S3 could not delete ${failed.length} of ${keys.length} objects (first: ${first.Key}: ${first.Code} ${first.Message})`,
      );
    }
  }

  /** Downloads the object into a private file in `scratchDir` (made 0700 if missing); `release` deletes it. */
  async localCopy(key: string, scratchDir: string): Promise<LocalCopy> {
    const Key = this.objectKey(key);
    await fsp.mkdir(scratchDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // Keep a short extension: some programs choose a demuxer by it.
    const ext = path.posix.extname(key);
    const file = path.join(
      scratchDir,
      `copy-${crypto.randomBytes(8).toString('hex')}${/^\.[A-Za-z0-9]{1,10}$/.test(ext) ? ext : ''}`,
    );
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      const out = fs.createWriteStream(file, { mode: PRIVATE_FILE_MODE, flags: 'wx' });
      if (res.Body instanceof Readable) await pipeline(res.Body, out);
      else await new Promise<void>((resolve, reject) => out.on('error', reject).end(resolve));
    } catch (err) {
      await fsp.rm(file, { force: true });
      throw isNotFound(err) ? notFoundError(key, err) : err;
    }
    return { path: file, release: () => fsp.rm(file, { force: true }) };
  }

  /** Closes the client's connections (tests, shutdown). */
  close(): void {
    this.client.destroy();
  }
}
