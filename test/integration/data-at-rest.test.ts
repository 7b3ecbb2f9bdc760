import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnairClient } from '../../src/cli/api-client.ts';
import { apiCall, until } from '../helpers/api.ts';
import { startPublisher, type Publisher } from '../helpers/live.ts';
import { makeSource } from '../helpers/media.ts';
import { openDatabase } from '../../src/db/database.ts';
import { testDatabaseKind } from '../helpers/database.ts';
import { testStorageKind } from '../helpers/backends.ts';
import {
  childProcesses,
  dropTestDatabase,
  environOf,
  startOnair,
  type OnairProcess,
} from '../helpers/onair-process.ts';

let work: string;
let dataDir: string;
let onair: OnairProcess | undefined;
let publisher: Publisher | undefined;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-rest-'));
  dataDir = path.join(work, 'data');
});

afterAll(async () => {
  await publisher?.drop();
  onair?.kill('SIGKILL');
  await onair?.exited;
  dropTestDatabase(dataDir);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Every file and folder under `dir`. */
function walk(dir: string): { file: string; isDir: boolean }[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => ({ file: path.join(e.parentPath, e.name), isDir: e.isDirectory() }));
}

/** A file's bytes, or nothing for one that went between listing and reading (a worker's scratch). */
function readIfThere(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function filesContaining(dir: string, needle: string): string[] {
  return walk(dir)
    .filter((e) => !e.isDir && readIfThere(e.file)?.includes(needle))
    .map((e) => path.relative(dir, e.file));
}

/** What a client without the password gets: one inline command, its first reply line. */
async function rawCommand(port: number, command: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(`${command}\r\n`);
  const [reply] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return reply.toString().split('\r\n')[0]!;
}

interface LiveEvent {
  id: string;
  assetId: string | null;
  live: { rtmpUrl: string; streamKey: string };
}

describe('data at rest', () => {
  it('keeps DATA_DIR private (0700/0600), the embedded Redis behind a password kept off command lines, and stream keys nowhere but the database', async () => {
    // An older install: a world-readable DATA_DIR and secret, and the ingest library's history
    // file with a stream key in it.
    // With SQLite; with PostgreSQL the database is shared, and the secret comes from ONAIR_SECRET
    // only (every process of a scale-out signs with it), so DATA_DIR holds no secret.key.
    const sqlite = testDatabaseKind() === 'sqlite';
    fs.mkdirSync(path.join(dataDir, 'ingest'), { recursive: true, mode: 0o755 });
    fs.chmodSync(dataDir, 0o755);
    if (sqlite) fs.writeFileSync(path.join(dataDir, 'secret.key'), 'x'.repeat(43) + '\n', { mode: 0o644 });
    const legacyKey = 'live_LEGACYKEYLEGACYKEYLEGACYKEYLEGACY';
    fs.writeFileSync(
      path.join(dataDir, 'ingest', 'stream_history.json'),
      JSON.stringify([{ streamPath: `/live/${legacyKey}`, ip: '203.0.113.7' }]),
      { mode: 0o644 },
    );

    onair = await startOnair(dataDir, { LOG_LEVEL: 'info', LIVE_RECONNECT_GRACE_SECONDS: '2' });
    const server = { url: onair.url, apiKey: onair.apiKey };
    const api = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
      apiCall<T>(server, method, url, body);

    // A media file the server itself writes (an upload), and media the worker's ffmpeg writes.
    const clip = await makeSource(path.join(work, 'clip.mp4'), { width: 320, height: 240, seconds: 2 });
    const client = new OnairClient(onair.url, onair.apiKey);
    const uploaded = await client.upload(clip, 'clip');
    expect((await client.waitForAsset(uploaded.id, undefined, 250)).status).toBe('ready');

    // A live stream with the first key, then the key is rotated.
    const created = await api<LiveEvent>('POST', '/api/events', { title: 'Keys', type: 'live' });
    expect(created.status).toBe(201);
    const event = created.json;
    const firstKey = event.live.streamKey;
    publisher = startPublisher(`${onair.rtmpUrl}/${firstKey}`, { width: 640, height: 360 });
    await until('the stream to be live with segments', async () => {
      const live = await api<{ status: string; renditions: string[]; inputBitrate: number | null }>(
        'GET',
        `/api/events/${event.id}/live`,
      );
      return live.json.status === 'live' && (live.json.inputBitrate ?? 0) > 0 && live.json.renditions.length;
    });
    await new Promise((r) => setTimeout(r, 3000));
    await publisher.stop();
    await until('the event to end', async () => {
      const live = await api<{ status: string }>('GET', `/api/events/${event.id}/live`);
      return live.json.status === 'ended';
    });
    const rotated = await api<LiveEvent>('POST', `/api/events/${event.id}/stream-key`);
    expect(rotated.status).toBe(200);
    const currentKey = rotated.json.live.streamKey;
    expect(currentKey).not.toBe(firstKey);
    // At once, not only after a clean shutdown: the database's WAL and main file included (SQLite;
    // with PostgreSQL no database file is in DATA_DIR at all).
    expect(filesContaining(dataDir, firstKey)).toEqual([]);

    // The embedded Redis asks for a password, which no command line shows.
    const children = childProcesses(onair.pid);
    const worker = children.find((c) => c.cmdline.includes('workers/main.ts'))!;
    const redisUrl = environOf(worker.pid, 'REDIS_URL')!;
    const password = new URL(redisUrl).password;
    expect(password.length).toBeGreaterThanOrEqual(32);
    const redisPid = Number(fs.readFileSync(path.join(dataDir, 'redis', 'redis.pid'), 'utf8'));
    const watchdog = children.find((c) => c.cmdline.startsWith('sh '))!;
    // The server secret: ONAIR_SECRET with PostgreSQL, kept off command lines like the password.
    const serverSecret = sqlite ? undefined : environOf(onair.pid, 'ONAIR_SECRET');
    if (!sqlite) expect(serverSecret?.length).toBeGreaterThanOrEqual(32);
    for (const pid of [redisPid, watchdog.pid, onair.pid, ...children.map((c) => c.pid)]) {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline, `pid ${pid}`).not.toContain(password);
      if (serverSecret) expect(cmdline, `pid ${pid}`).not.toContain(serverSecret);
    }
    const port = Number(new URL(redisUrl).port);
    expect(await rawCommand(port, 'PING')).toMatch(/^-NOAUTH/);
    expect(await rawCommand(port, 'KEYS *')).toMatch(/^-NOAUTH/);
    const authorised = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await authorised.connect();
    expect(await authorised.ping()).toBe('PONG');
    authorised.disconnect();

    onair.kill('SIGTERM');
    expect(await onair.exited).toBe(0);
    const output = onair.output();
    expect(output).toContain('embedded redis started');
    for (const secret of [password, firstKey, currentKey, ...(serverSecret ? [serverSecret] : [])]) {
      expect(output).not.toContain(secret);
    }

    // Folders 0700, files 0600: the database and the secret (SQLite), the AOF, media (local disk;
    // on S3 media is in the bucket and DATA_DIR holds none), the scratch folders.
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    const entries = walk(dataDir);
    const localMedia = testStorageKind() === 'local';
    for (const name of [
      ...(sqlite ? ['onair.sqlite', 'secret.key'] : []),
      'redis/appendonlydir',
      'scratch',
      ...(localMedia ? [`media/assets/${uploaded.id}`, 'media'] : []),
    ]) {
      expect(fs.existsSync(path.join(dataDir, name)), name).toBe(true);
    }
    expect(entries.some((e) => e.file.endsWith('.m4s'))).toBe(localMedia);
    expect(entries.some((e) => e.file.includes('appendonly') && !e.isDir)).toBe(true);
    // A worker's scratch file may go between the listing and its stat: only what is there counts.
    const modeOf = (file: string) => fs.statSync(file, { throwIfNoEntry: false })?.mode;
    const wide = entries
      .map((e) => ({ ...e, mode: modeOf(e.file) }))
      .filter((e) => e.mode !== undefined && (e.mode & 0o777) !== (e.isDir ? 0o700 : 0o600))
      .map((e) => `${(e.mode! & 0o777).toString(8)} ${path.relative(dataDir, e.file)}`);
    expect(wide).toEqual([]);

    // The rotated key and the old install's history are gone from every file, the AOF included;
    // the current key is in the database only.
    expect(filesContaining(dataDir, firstKey)).toEqual([]);
    expect(filesContaining(dataDir, legacyKey)).toEqual([]);
    expect(filesContaining(dataDir, '203.0.113.7')).toEqual([]);
    const holdingCurrent = filesContaining(dataDir, currentKey);
    if (sqlite) {
      expect(holdingCurrent).toContain('onair.sqlite');
      expect(holdingCurrent.every((f) => f.startsWith('onair.sqlite'))).toBe(true);
    } else {
      // PostgreSQL keeps its files on the database server, not in DATA_DIR: no SQLite file was
      // made, no file here holds the key, and the database has the current key and not the old
      // one. (The old row version's bytes on the server's disk until VACUUM and in its WAL are the
      // database operator's to protect: see eraseOverwritten.)
      expect(onair.databaseUrl).toMatch(/^postgres(ql)?:/);
      expect(entries.filter((e) => path.basename(e.file).startsWith('onair.sqlite'))).toEqual([]);
      expect(filesContaining(dataDir, serverSecret!)).toEqual([]);
      expect(holdingCurrent).toEqual([]);
      const db = openDatabase({ dataDir, databaseUrl: onair.databaseUrl });
      try {
        const keys = await db.selectFrom('events').select('stream_key').where('id', '=', event.id).execute();
        expect(keys).toEqual([{ stream_key: currentKey }]);
        const old = await db.selectFrom('events').select('id').where('stream_key', '=', firstKey).execute();
        expect(old).toEqual([]);
      } finally {
        await db.destroy();
      }
    }
  });
});
