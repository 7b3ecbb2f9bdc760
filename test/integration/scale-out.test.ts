import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { freePort } from '../../src/net/free-ports.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { apiCall, until } from '../helpers/api.ts';
import { createPostgresDatabase } from '../helpers/database.ts';
import { startPublisher, type Publisher } from '../helpers/live.ts';
import { makeSource } from '../helpers/media.ts';
import { childProcesses, isAlive } from '../helpers/onair-process.ts';
import { startRedis } from '../helpers/redis.ts';
import { startS3Server, useS3rverCredentials } from '../helpers/s3.ts';

/**
 * Scale-out for real: one api, two workers and one ingest, each its own process with its own
 * DATA_DIR (no shared disk), over PostgreSQL, an S3-compatible server (s3rver, its own process)
 * and one Redis. Nothing here reaches into a DATA_DIR: media must go through S3.
 */

const root = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const API_KEY = `onair_${crypto.randomBytes(24).toString('base64url')}`;
const BUCKET = 'onair-scale-out';

interface Role {
  readonly name: string;
  readonly dataDir: string;
  child: ChildProcess;
  output: string;
}

let work: string;
let s3: Awaited<ReturnType<typeof startS3Server>>;
let database: { url: string; drop(): void };
let redis: Awaited<ReturnType<typeof startRedis>>;
let sharedEnv: Record<string, string>;
let apiUrl: string;
const roles: Role[] = [];
const publishers: Publisher[] = [];

function startRole(name: string, entry: string, env: Record<string, string>): Role {
  const dataDir = path.join(work, name);
  fs.mkdirSync(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: root,
    env: { ...process.env, ...sharedEnv, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const role: Role = { name, dataDir, child, output: '' };
  child.stdout.on('data', (c: Buffer) => (role.output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (role.output += c.toString()));
  roles.push(role);
  return role;
}

async function ready(role: Role, pattern: RegExp): Promise<void> {
  await until(
    `${role.name} to start`,
    () => {
      if (role.child.exitCode !== null) throw new Error(`${role.name} exited:\n${role.output}`);
      return pattern.test(role.output);
    },
    60_000,
  );
}

function api<T = Record<string, unknown>>(method: string, url: string, body?: unknown) {
  return apiCall<T>({ url: apiUrl, apiKey: API_KEY }, method, url, body);
}

/** Which worker's ffmpeg is running now (the worker holding that job). */
function workerRunningFfmpeg(): Role | undefined {
  return roles.find(
    (r) =>
      r.name.startsWith('worker') &&
      r.child.exitCode === null &&
      childProcesses(r.child.pid!).some((c) => /ffmpeg/.test(c.cmdline)),
  );
}

/** Decodes every frame of an HLS URL with ffmpeg: the proof that it plays. */
async function decodes(url: string): Promise<number> {
  const { stderr } = await run(
    'ffmpeg',
    ['-hide_banner', '-nostats', '-i', url, '-map', '0:v:0', '-f', 'null', '-'],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const frames = [...stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1];
  return Number(frames ?? 0);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-scale-'));
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  database = createPostgresDatabase();
  redis = await startRedis();
  const apiPort = await freePort();
  const rtmpPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  sharedEnv = {
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    S3_BUCKET: BUCKET,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    ONAIR_SECRET: crypto.randomBytes(32).toString('base64url'),
    ONAIR_API_KEY: API_KEY,
    PUBLIC_URL: apiUrl,
    RTMP_PUBLIC_URL: `rtmp://127.0.0.1:${rtmpPort}/live`,
    SRT_PORT: '0',
    WHIP_PORT: '0',
    INGEST_ADVERTISE_HOST: '127.0.0.1',
    X264_PRESET: 'ultrafast',
    JOB_LOCK_MS: '3000',
    LIVE_LOCK_MS: '3000',
    LIVE_RECONNECT_GRACE_SECONDS: '20',
    LOG_LEVEL: 'info',
  };
  const apiRole = startRole('api', 'src/api-main.ts', { PORT: String(apiPort), HOST: '127.0.0.1' });
  const workers = [
    startRole('worker-a', 'workers/main.ts', {}),
    startRole('worker-b', 'workers/main.ts', {}),
  ];
  const ingest = startRole('ingest', 'src/live/ingest-main.ts', {
    RTMP_PORT: String(rtmpPort),
    RTMP_HOST: '127.0.0.1',
  });
  await ready(apiRole, /onair is up at/);
  for (const w of workers) await ready(w, /workers ready/);
  await ready(ingest, /rtmp ingest listening/);
}, 120_000);

afterAll(async () => {
  for (const p of publishers) await p.drop();
  for (const r of roles) if (r.child.exitCode === null) r.child.kill('SIGTERM');
  await Promise.all(
    roles.map((r) =>
      r.child.exitCode !== null || r.child.signalCode !== null
        ? Promise.resolve()
        : new Promise((resolve) => {
            const timer = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
            r.child.once('exit', () => resolve(clearTimeout(timer)));
          }),
    ),
  );
  await redis?.stop();
  await s3?.stop();
  database?.drop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('scale-out: api, two workers and an ingest on machines that share no disk', () => {
  it('turns an upload into a ladder in S3, playable while processing, played through the origin', async () => {
    const source = await makeSource(path.join(work, 'talk.mp4'), { seconds: 20, width: 1280, height: 720 });
    const client = new OnairClient(apiUrl, API_KEY);
    const uploaded = await client.upload(source, 'Scale-out talk');
    const playable = await until(
      'playable while processing',
      async () => {
        const a = await client.getAsset(uploaded.id);
        return a.playback ? a : undefined;
      },
      60_000,
    );
    expect(await (await fetch(playable.playback!.master)).text()).toContain('#EXT-X-STREAM-INF');
    const ready = await client.waitForAsset(uploaded.id);
    expect(ready.status).toBe('ready');
    const master = ready.playback!.master;
    const variants = parseMasterPlaylist(await (await fetch(master)).text()).variants;
    expect(variants.length).toBeGreaterThanOrEqual(2);
    // Every rung plays to the end, from S3 through the origin.
    for (const v of variants) {
      const url = new URL(v.uri, master).toString();
      expect(await decodes(url)).toBeGreaterThan(20 * 25 * 0.95);
    }
    // The media is in the bucket, and in no role's DATA_DIR.
    const restore = useS3rverCredentials();
    const storage = new S3Storage({
      bucket: BUCKET,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    const keys = await storage.list(`assets/${uploaded.id}`);
    expect(keys.some((k) => k.endsWith('master.m3u8'))).toBe(true);
    expect(keys.filter((k) => k.endsWith('.m4s')).length).toBeGreaterThan(10);
    restore();
    for (const r of roles) {
      const files = fs.readdirSync(r.dataDir, { recursive: true }).map(String);
      expect(
        files.filter((f) => /\.(m4s|m3u8|mp4)$/.test(f)),
        r.name,
      ).toEqual([]);
    }
  });

  it('finishes a transcode on the other worker when the one running it is SIGKILLed', async () => {
    const source = await makeSource(path.join(work, 'long.mp4'), { seconds: 90, width: 1280, height: 720 });
    const client = new OnairClient(apiUrl, API_KEY);
    const uploaded = await client.upload(source, 'Killed mid-transcode');
    const victim = await until('a worker to run ffmpeg', () => workerRunningFfmpeg(), 60_000);
    await until('some progress', async () => (await client.getAsset(uploaded.id)).progress > 5, 60_000);
    const orphans = childProcesses(victim.child.pid!).map((c) => c.pid);
    victim.child.kill('SIGKILL');
    // Its ffmpeg dies with it (nobody reaps it by a pid found on shared storage).
    await until("the killed worker's ffmpeg to be gone", () => orphans.every((pid) => !isAlive(pid)), 10_000);
    const ready = await client.waitForAsset(uploaded.id);
    expect(ready.status).toBe('ready');
    const master = ready.playback!.master;
    const top = new URL(
      parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri,
      master,
    ).toString();
    expect(await decodes(top)).toBeGreaterThan(90 * 25 * 0.95);
    // Start a replacement, as a supervisor would.
    const again = startRole(`worker-c`, 'workers/main.ts', {});
    await ready_(again);
  });

  it('goes live over RTMP through the ingest, survives the live worker being SIGKILLed, and the replay plays', async () => {
    const created = await api<{
      id: string;
      webinarId: string;
      live: { rtmpUrl: string; streamKey: string };
    }>('POST', '/api/events', { title: 'Scale-out live', type: 'live' });
    expect(created.status).toBe(201);
    const event = created.json;
    const publisher = startPublisher(`${event.live.rtmpUrl}/${event.live.streamKey}`, { keyframeSeconds: 2 });
    publishers.push(publisher);
    const info = async () =>
      (await (await fetch(`${apiUrl}/w/${event.webinarId.replace(/-/g, '')}/info.json`)).json()) as {
        state: string;
        playback: { master: string; live: boolean } | null;
      };
    const live = await until(
      'live playback',
      async () => {
        const i = await info();
        return i.state === 'playable' && i.playback?.live ? i : undefined;
      },
      60_000,
    );
    const master = live.playback!.master;
    const rungUrl = new URL(
      parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri,
      master,
    ).toString();
    const segmentsNow = async () => parseMediaPlaylist(await (await fetch(rungUrl)).text()).segments.length;
    await until('3 live segments', async () => (await segmentsNow()) >= 3, 30_000);

    const victim = await until('the live worker', () => workerRunningFfmpeg(), 30_000);
    const before = await segmentsNow();
    victim.child.kill('SIGKILL');
    // Another worker takes the stream over and the live playlist grows again.
    await until(
      'the live playlist to grow after the takeover',
      async () => (await segmentsNow()) >= before + 3,
      60_000,
    );

    await publisher.stop();
    expect((await api('POST', `/api/events/${event.id}/end`)).status).toBeLessThan(300);
    const replay = await until(
      'the replay',
      async () => {
        const i = await info();
        return i.playback && !i.playback.live ? i : undefined;
      },
      60_000,
    );
    const replayMaster = replay.playback!.master;
    const top = new URL(
      parseMasterPlaylist(await (await fetch(replayMaster)).text()).variants[0]!.uri,
      replayMaster,
    ).toString();
    expect(await (await fetch(top)).text()).toContain('#EXT-X-ENDLIST');
    expect(await decodes(top)).toBeGreaterThan(0);
  });

  it('airs an automated session of the recording from S3', async () => {
    const assets = await api<{ assets: { id: string; status: string; durationSeconds: number | null }[] }>(
      'GET',
      '/api/assets',
    );
    // The longest recording: the session began 10 s ago and must still be on air.
    const asset = assets.json.assets
      .filter((a) => a.status === 'ready')
      .sort((a, b) => (b.durationSeconds ?? 0) - (a.durationSeconds ?? 0))[0]!;
    const start = Math.floor((Date.now() - 10_000) / 1000) * 1000;
    const created = await api<{ id: string; webinarId: string }>('POST', '/api/events', {
      title: 'Scale-out automated',
      type: 'automated',
      assetId: asset.id,
      schedule: { timezone: 'UTC', kind: 'once', startsAt: new Date(start).toISOString() },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const base = `${apiUrl}/w/${created.json.webinarId.replace(/-/g, '')}`;
    const first = await fetch(`${base}/info.json`);
    const cookie = first.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const info = (await first.json()) as { sessions: { startsAt: string }[] };
    const joined = await fetch(`${base}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ sessionAt: info.sessions[0]!.startsAt }),
    });
    const session = (await joined.json()) as {
      state: string;
      playback: { master: string; live: boolean } | null;
    };
    expect(session.state).toBe('playable');
    expect(session.playback?.live).toBe(true);
    const master = session.playback!.master;
    const rung = new URL(
      parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri,
      master,
    ).toString();
    const playlist = parseMediaPlaylist(await (await fetch(rung)).text());
    expect(playlist.ended).toBe(false);
    expect(playlist.segments.length).toBeGreaterThan(0);
    const segment = await fetch(new URL(playlist.segments[0]!.uri, rung));
    expect(segment.status).toBe(200);
    expect((await segment.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });
});

async function ready_(role: Role): Promise<void> {
  await ready(role, /workers ready/);
}
