/**
 * Resumable uploads (tus 1.0.0 at /api/uploads) against a real onair, on the suite's backend
 * (SQLite + local disk, or PostgreSQL + S3): uploads in several PATCHes reach `ready`; a PATCH cut
 * mid-way keeps exactly the bytes that arrived and the upload resumes from there to a source that
 * is byte for byte the file; refusals are 4xx and change nothing; another account's upload does
 * not exist; expiry and termination remove the parts. The server's public URL is a TCP relay in
 * front of it, so upload URLs are checked to come from configuration and the CLI's client can be
 * cut off mid-upload.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { OnairClient } from '../../src/cli/api-client.ts';
import { JobQueues } from '../../src/queue/catalogue.ts';
import { addApiKey, createAccount, generateApiKey } from '../../src/db/accounts.ts';
import type { Db } from '../../src/db/database.ts';
import { findUpload, insertUpload, listUploadParts } from '../../src/db/uploads.ts';
import { formatUploadMetadata } from '../../src/http/tus-headers.ts';
import { newId } from '../../src/ids.ts';
import type { Logger } from '../../src/log.ts';
import { sourceKey, uploadPrefix } from '../../src/media/layout.ts';
import {
  appendBody,
  BodyInterruptedError,
  finishStrandedUploads,
  finishUpload,
  removeExpiredUploads,
  UPLOAD_TTL_MS,
} from '../../src/services/resumable-uploads.ts';
import { until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { startTcpRelay, type TcpRelay } from '../helpers/tcp-relay.ts';
import {
  serverDatabase,
  serverStorage,
  startTestServer,
  type ServerStorage,
  type TestServer,
} from '../helpers/server.ts';

const TUS = { 'tus-resumable': '1.0.0' };
const OCTETS = 'application/offset+octet-stream';
const MAX_UPLOAD = 50 * 1024 * 1024;
const log: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => log };

let server: TestServer;
let relay: TcpRelay;
let work: string;
let db: Db;
let storage: ServerStorage;
let file: string;
let bytes: Buffer;
let otherKey: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-tus-'));
  relay = await startTcpRelay();
  server = await startTestServer({ PUBLIC_URL: relay.url, MAX_UPLOAD_SIZE: String(MAX_UPLOAD) });
  relay.target = Number(new URL(server.url).port);
  db = serverDatabase(server);
  storage = await serverStorage(server);
  file = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 4 });
  bytes = fs.readFileSync(file);
  const other = await createAccount(db, 'Other Co');
  otherKey = generateApiKey();
  await addApiKey(db, other.id, otherKey, 'test');
});

afterAll(async () => {
  storage?.close();
  await db?.destroy();
  await server?.close();
  await relay?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** A tus request with the account's key (or `key`), to the server or to an upload URL. */
async function tus(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
  key = server.apiKey,
): Promise<Response> {
  return fetch(url.startsWith('http') ? url : `${server.url}${url}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...TUS, ...headers },
    ...(body ? { body: new Uint8Array(body) } : {}),
  });
}

async function create(length = bytes.length, metadata: Record<string, string> = { title: 'Talk' }) {
  const response = await tus('POST', '/api/uploads', {
    'upload-length': String(length),
    'upload-metadata': formatUploadMetadata({ filename: 'talk.mp4', filetype: 'video/mp4', ...metadata }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.headers.get('location')!;
}

async function patch(location: string, offset: number, body: Buffer): Promise<Response> {
  return tus('PATCH', location, { 'content-type': OCTETS, 'upload-offset': String(offset) }, body);
}

async function offsetOf(location: string): Promise<number> {
  const head = await tus('HEAD', location);
  expect(head.status).toBe(200);
  return Number(head.headers.get('upload-offset'));
}

async function uploadRows(): Promise<number> {
  const row = await db
    .selectFrom('uploads')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Waits for the asset and checks its stored source is the file, byte for byte. */
async function expectReadyWithSource(assetId: string, expected = bytes): Promise<void> {
  const asset = await server.client.waitForAsset(assetId, undefined, 250);
  expect(asset.status, asset.error ?? '').toBe('ready');
  const stored = await storage.readBytes(sourceKey(assetId));
  expect(stored?.length).toBe(expected.length);
  expect(stored!.equals(expected)).toBe(true);
}

/**
 * A request on a raw socket straight to the server, declaring `body` whole but sending only its
 * first `first` bytes now: `rest()` sends the remainder and resolves with the raw answer,
 * `drop()` cuts the connection, `answer` is whatever came back before the connection closed.
 */
function rawRequest(
  method: string,
  location: string,
  headers: Record<string, string>,
  body: Buffer,
  first: number,
) {
  const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', () => undefined);
  });
  const lines = Object.entries({
    host: new URL(server.url).host,
    authorization: `Bearer ${server.apiKey}`,
    ...TUS,
    ...headers,
    'content-length': String(body.length),
    connection: 'close',
  }).map(([name, value]) => `${name}: ${value}`);
  socket.write([`${method} ${new URL(location).pathname} HTTP/1.1`, ...lines, '', ''].join('\r\n'));
  socket.write(body.subarray(0, first));
  return {
    answer,
    rest: () => {
      socket.write(body.subarray(first));
      return answer;
    },
    drop: () => socket.destroy(),
  };
}

const rawPatch = (location: string, offset: number, body: Buffer, first: number) =>
  rawRequest('PATCH', location, { 'content-type': OCTETS, 'upload-offset': String(offset) }, body, first);

describe('tus uploads at /api/uploads', () => {
  it('OPTIONS names the version, extensions and the size limit', async () => {
    const response = await fetch(`${server.url}/api/uploads`, {
      method: 'OPTIONS',
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('tus-version')).toBe('1.0.0');
    expect(response.headers.get('tus-resumable')).toBe('1.0.0');
    expect(response.headers.get('tus-max-size')).toBe(String(MAX_UPLOAD));
    expect(response.headers.get('tus-extension')?.split(',')).toEqual(
      expect.arrayContaining(['creation', 'creation-with-upload', 'termination', 'expiration']),
    );
  });

  it('creates an upload at the public URL, takes it in several PATCHes and makes it a ready asset', async () => {
    // The Host header is the client's to choose: the URL comes from configuration.
    const created = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.request(`${server.url}/api/uploads`, {
        method: 'POST',
        headers: {
          host: 'evil.example',
          authorization: `Bearer ${server.apiKey}`,
          ...TUS,
          'upload-length': String(bytes.length),
          'upload-metadata': formatUploadMetadata({ filename: 'talk.mp4', title: 'Quarterly update' }),
        },
      });
      request.on('response', resolve).on('error', reject).end();
    });
    created.resume();
    expect(created.statusCode).toBe(201);
    const location = created.headers.location!;
    expect(location).toMatch(new RegExp(`^${relay.url}/api/uploads/up_[A-Za-z0-9]{16}$`));
    expect(Date.parse(created.headers['upload-expires'] as string)).toBeGreaterThan(
      Date.now() + UPLOAD_TTL_MS - 60_000,
    );
    expect(created.headers['tus-resumable']).toBe('1.0.0');

    const head = await tus('HEAD', location);
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('0');
    expect(head.headers.get('upload-length')).toBe(String(bytes.length));
    expect(head.headers.get('cache-control')).toBe('no-store');
    expect(head.headers.get('tus-resumable')).toBe('1.0.0');

    const cuts = [0, 1000, Math.floor(bytes.length / 2), bytes.length];
    let assetId: string | null = null;
    for (let i = 0; i < cuts.length - 1; i++) {
      const response = await patch(location, cuts[i]!, bytes.subarray(cuts[i], cuts[i + 1]));
      expect(response.status, await response.text()).toBe(204);
      expect(response.headers.get('upload-offset')).toBe(String(cuts[i + 1]));
      expect(response.headers.get('tus-resumable')).toBe('1.0.0');
      assetId = response.headers.get('onair-asset-id');
      if (i < cuts.length - 2) {
        expect(assetId).toBeNull();
        expect(response.headers.get('upload-expires')).toBeTruthy();
        expect(await offsetOf(location)).toBe(cuts[i + 1]);
      }
    }
    expect(assetId).toMatch(/^as_/);
    // HEAD on the finished upload names the asset too; the parts are gone.
    const finished = await tus('HEAD', location);
    expect(finished.headers.get('onair-asset-id')).toBe(assetId);
    expect(finished.headers.get('upload-offset')).toBe(String(bytes.length));
    const id = new URL(location).pathname.split('/').pop()!;
    expect(await storage.list(uploadPrefix(id))).toEqual([]);
    const asset = await server.client.getAsset(assetId!);
    expect(asset.title).toBe('Quarterly update');
    await expectReadyWithSource(assetId!);
  });

  it('keeps exactly what a PATCH cut off mid-way brought, and resumes from there to the same bytes', async () => {
    const location = await create();
    const half = Math.floor(bytes.length / 2);
    const cutOff = rawPatch(location, 0, bytes, half);
    // Let the server read what was sent, then drop the connection as a flaky network would.
    await new Promise((r) => setTimeout(r, 500));
    cutOff.drop();
    await until('HEAD to report the bytes that arrived', async () => (await offsetOf(location)) === half);
    const resumed = await patch(location, half, bytes.subarray(half));
    expect(resumed.status, await resumed.text()).toBe(204);
    const assetId = resumed.headers.get('onair-asset-id')!;
    expect(assetId).toMatch(/^as_/);
    await expectReadyWithSource(assetId);
  });

  it('lets one of two PATCHes at the same offset append, and refuses the other with 409', async () => {
    const location = await create();
    const slow = rawPatch(location, 0, bytes, 1000);
    await new Promise((r) => setTimeout(r, 200));
    const fast = await patch(location, 0, bytes);
    expect(fast.status).toBe(204);
    const assetId = fast.headers.get('onair-asset-id')!;
    expect(assetId).toMatch(/^as_/);
    const answer = await slow.rest();
    expect(answer).toMatch(/^HTTP\/1\.1 409 /);
    expect(answer).toMatch(/tus-resumable: 1\.0\.0/i);
    const stored = await storage.readBytes(sourceKey(assetId));
    expect(stored!.equals(bytes)).toBe(true);
  });

  it('refuses a PATCH at the wrong offset with 409, changing nothing', async () => {
    const location = await create();
    expect((await patch(location, 0, bytes.subarray(0, 100))).status).toBe(204);
    const wrong = await patch(location, 50, bytes.subarray(50, 200));
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/HEAD/);
    expect(await offsetOf(location)).toBe(100);
  });

  it('answers 412 to a request without Tus-Resumable 1.0.0', async () => {
    const location = await create();
    for (const version of [undefined, '0.2.2', '2.0.0']) {
      const response = await fetch(location, {
        method: 'HEAD',
        headers: {
          authorization: `Bearer ${server.apiKey}`,
          ...(version ? { 'tus-resumable': version } : {}),
        },
      });
      expect(response.status).toBe(412);
      expect(response.headers.get('tus-version')).toBe('1.0.0');
      expect(response.headers.get('tus-resumable')).toBe('1.0.0');
    }
    const post = await fetch(`${server.url}/api/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'upload-length': '10' },
    });
    expect(post.status).toBe(412);
    expect(((await post.json()) as { error: { message: string } }).error.message).toMatch(
      /Tus-Resumable: 1\.0\.0/,
    );
  });

  it("does not know another account's upload", async () => {
    const location = await create();
    expect((await patch(location, 0, bytes.subarray(0, 10))).status).toBe(204);
    expect((await tus('HEAD', location, {}, undefined, otherKey)).status).toBe(404);
    const theirPatch = await tus(
      'PATCH',
      location,
      { 'content-type': OCTETS, 'upload-offset': '10' },
      bytes.subarray(10, 20),
      otherKey,
    );
    expect(theirPatch.status).toBe(404);
    expect((await tus('DELETE', location, {}, undefined, otherKey)).status).toBe(404);
    expect(await offsetOf(location)).toBe(10);
    // Without a key, nothing at all (and the answer still speaks tus).
    const anonymous = await fetch(location, { method: 'HEAD', headers: TUS });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('tus-resumable')).toBe('1.0.0');
  });

  it('refuses bad creation requests with a 4xx saying what to fix, creating nothing', async () => {
    const before = await uploadRows();
    const post = (headers: Record<string, string>) => tus('POST', '/api/uploads', headers);
    const cases: [Record<string, string>, number, RegExp][] = [
      [
        { 'upload-length': String(MAX_UPLOAD + 1), 'upload-metadata': formatUploadMetadata({ title: 'x' }) },
        413,
        /limit/,
      ],
      [
        { 'upload-length': '1000', 'upload-metadata': formatUploadMetadata({ filename: 'a.mp4' }) },
        400,
        /title/,
      ],
      [{ 'upload-length': '1000', 'upload-metadata': formatUploadMetadata({ title: '   ' }) }, 400, /title/],
      [
        { 'upload-length': '1000', 'upload-metadata': formatUploadMetadata({ title: 'x'.repeat(201) }) },
        400,
        /200/,
      ],
      [{ 'upload-length': '1000', 'upload-metadata': 'title not-base64!' }, 400, /base64/],
      [
        { 'upload-length': '1000', 'upload-metadata': `title ${Buffer.from('a\0b').toString('base64')}` },
        400,
        /NUL/,
      ],
      [{ 'upload-metadata': formatUploadMetadata({ title: 'x' }) }, 400, /Upload-Length/],
      [
        { 'upload-length': '-1', 'upload-metadata': formatUploadMetadata({ title: 'x' }) },
        400,
        /Upload-Length/,
      ],
      [
        { 'upload-length': '1e6', 'upload-metadata': formatUploadMetadata({ title: 'x' }) },
        400,
        /Upload-Length/,
      ],
      [{ 'upload-length': '0', 'upload-metadata': formatUploadMetadata({ title: 'x' }) }, 400, /empty/],
      [
        { 'upload-defer-length': '1', 'upload-metadata': formatUploadMetadata({ title: 'x' }) },
        400,
        /Upload-Length/,
      ],
    ];
    for (const [headers, status, message] of cases) {
      const response = await post(headers);
      const text = await response.text();
      expect(response.status, `${JSON.stringify(headers)}: ${text}`).toBe(status);
      expect((JSON.parse(text) as { error: { message: string } }).error.message).toMatch(message);
      expect(response.headers.get('location')).toBeNull();
    }
    expect(await uploadRows()).toBe(before);
  });

  it('refuses bad PATCHes with a 4xx, changing nothing', async () => {
    const location = await create();
    expect((await patch(location, 0, bytes.subarray(0, 100))).status).toBe(204);
    const send = (headers: Record<string, string>, body = bytes.subarray(100, 200)) =>
      tus('PATCH', location, headers, body);
    expect((await send({ 'content-type': 'application/octet-stream', 'upload-offset': '100' })).status).toBe(
      415,
    );
    expect((await send({ 'content-type': OCTETS })).status).toBe(400);
    expect((await send({ 'content-type': OCTETS, 'upload-offset': 'abc' })).status).toBe(400);
    // Refused before its body is read, and the connection closed rather than read it all.
    const tooLong = rawPatch(location, 100, Buffer.concat([bytes, bytes]), 0);
    expect(await tooLong.answer).toMatch(/^HTTP\/1\.1 413 [^]*connection: close/i);
    expect(
      (
        await tus(
          'PATCH',
          `${server.url}/api/uploads/up_nosuchupload0000`,
          { 'content-type': OCTETS, 'upload-offset': '0' },
          bytes.subarray(0, 10),
        )
      ).status,
    ).toBe(404);
    expect((await tus('HEAD', `${server.url}/api/uploads/..%2f..%2fetc`)).status).toBe(404);
    expect(await offsetOf(location)).toBe(100);
  });

  it('creation-with-upload: the POST can carry the whole file', async () => {
    const response = await tus(
      'POST',
      '/api/uploads',
      {
        'upload-length': String(bytes.length),
        'upload-metadata': formatUploadMetadata({ title: 'In one go' }),
        'content-type': OCTETS,
      },
      bytes,
    );
    expect(response.status).toBe(201);
    expect(response.headers.get('upload-offset')).toBe(String(bytes.length));
    const assetId = response.headers.get('onair-asset-id')!;
    expect(assetId).toMatch(/^as_/);
    expect((await storage.readBytes(sourceKey(assetId)))!.equals(bytes)).toBe(true);
  });

  it('DELETE terminates an upload and removes its parts', async () => {
    const location = await create();
    expect((await patch(location, 0, bytes.subarray(0, 5000))).status).toBe(204);
    const id = new URL(location).pathname.split('/').pop()!;
    expect((await storage.list(uploadPrefix(id))).length).toBe(1);
    const deleted = await tus('DELETE', location);
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get('tus-resumable')).toBe('1.0.0');
    expect(await storage.list(uploadPrefix(id))).toEqual([]);
    expect((await tus('HEAD', location)).status).toBe(404);
    expect((await patch(location, 5000, bytes.subarray(5000, 6000))).status).toBe(404);
  });

  it('expires unfinished uploads: 410 once past their time, then removed with their parts', async () => {
    const location = await create();
    expect((await patch(location, 0, bytes.subarray(0, 3000))).status).toBe(204);
    const id = new URL(location).pathname.split('/').pop()!;
    // The same clean-up that start-up and the hourly retention sweep run, a day later.
    await removeExpiredUploads({ db, storage }, log, Date.now() + UPLOAD_TTL_MS - 3600_000);
    expect(await offsetOf(location)).toBe(3000);
    await db
      .updateTable('uploads')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    expect((await tus('HEAD', location)).status).toBe(410);
    expect((await patch(location, 3000, bytes.subarray(3000, 4000))).status).toBe(410);
    expect(await removeExpiredUploads({ db, storage }, log)).toBeGreaterThanOrEqual(1);
    expect(await findUpload(db, id)).toBeUndefined();
    expect(await storage.list(uploadPrefix(id))).toEqual([]);
    expect((await tus('HEAD', location)).status).toBe(404);
  });

  it('cuts a long body into bounded parts, and keeps the parts of a body that stops', async () => {
    const account = await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
    const row = await insertUpload(db, {
      id: newId('up'),
      accountId: account.id,
      assetId: newId('as'),
      title: 'parts',
      filename: 'talk.mp4',
      filetype: undefined,
      length: bytes.length,
      expiresAt: new Date(Date.now() + UPLOAD_TTL_MS).toISOString(),
    });
    const partBytes = 64 * 1024;
    const third = Math.floor(bytes.length / 3);
    // A body that stops after a third (in uneven chunks): whole parts, then what was left.
    const stopping = Readable.from(
      (function* () {
        for (let at = 0; at < third; at += 10_000) yield bytes.subarray(at, Math.min(at + 10_000, third));
        throw new Error('connection reset');
      })(),
    );
    await expect(appendBody({ db, storage }, row, stopping, { partBytes })).rejects.toBeInstanceOf(
      BodyInterruptedError,
    );
    const afterStop = (await findUpload(db, row.id))!;
    expect(afterStop.upload_offset).toBe(third);
    const offset = await appendBody({ db, storage }, afterStop, Readable.from([bytes.subarray(third)]), {
      partBytes,
    });
    expect(offset).toBe(bytes.length);
    const parts = await listUploadParts(db, row.id);
    expect(parts.every((p) => p.bytes <= partBytes)).toBe(true);
    expect(parts.length).toBe(Math.ceil(third / partBytes) + Math.ceil((bytes.length - third) / partBytes));
    expect((await storage.list(uploadPrefix(row.id))).length).toBe(parts.length);
    const assetId = await finishUpload(
      { db, storage, queues: noQueue, log },
      (await findUpload(db, row.id))!,
    );
    expect(assetId).toBe(row.asset_id);
    expect((await storage.readBytes(sourceKey(row.asset_id)))!.equals(bytes)).toBe(true);
    expect(await storage.list(uploadPrefix(row.id))).toEqual([]);
  });

  it('makes an asset of a complete upload whose last request ended before it could (the sweep)', async () => {
    // The client sent the last byte and left; the API process died before making the asset.
    const account = await db
      .selectFrom('accounts')
      .select('id')
      .orderBy('created_at')
      .executeTakeFirstOrThrow();
    const row = await insertUpload(db, {
      id: newId('up'),
      accountId: account.id,
      assetId: newId('as'),
      title: 'stranded',
      filename: 'talk.mp4',
      filetype: undefined,
      length: bytes.length,
      expiresAt: new Date(Date.now() + UPLOAD_TTL_MS).toISOString(),
    });
    expect(await appendBody({ db, storage }, row, Readable.from([bytes]), {})).toBe(bytes.length);
    // Past its expiry it is kept: the expiry sweep leaves complete uploads to be finished.
    await removeExpiredUploads({ db, storage }, log, Date.now() + UPLOAD_TTL_MS + 3600_000);
    expect(await findUpload(db, row.id)).toBeDefined();
    const redis = new Redis(server.redisUrl, { maxRetriesPerRequest: null });
    const queues = new JobQueues(redis);
    try {
      expect(await finishStrandedUploads({ db, storage, queues, log })).toBe(1);
      expect(await finishStrandedUploads({ db, storage, queues, log })).toBe(0);
    } finally {
      await queues.close();
      redis.disconnect();
    }
    expect((await storage.readBytes(sourceKey(row.asset_id)))!.equals(bytes)).toBe(true);
    const asset = await server.client.waitForAsset(row.asset_id, undefined, 200);
    expect(asset.status, asset.error ?? '').toBe('ready');
  });

  it("the CLI's client resumes after its connection drops mid-upload", async () => {
    const client = new OnairClient(relay.url, server.apiKey);
    const cut = relay.cutAfter(Math.floor(bytes.length / 3));
    const retries: string[] = [];
    let last = 0;
    const asset = await client.uploadResumable(file, 'Flaky network', (sent) => (last = sent), {
      retryDelaysMs: [100, 200, 400],
      onRetry: (reason) => retries.push(reason),
    });
    await cut;
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(last).toBe(bytes.length);
    expect(asset.title).toBe('Flaky network');
    await expectReadyWithSource(asset.id);
  });
});

/** finishUpload queues the transcode; this test's asset is only checked in storage. */
const noQueue = { add: () => Promise.resolve() } as unknown as Parameters<typeof finishUpload>[0]['queues'];
