import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnairClient } from '../../src/cli/api-client.ts';
import { apiCall, until } from '../helpers/api.ts';
import { obsLikePublish } from '../helpers/live.ts';
import { makeSource } from '../helpers/media.ts';
import {
  childProcesses,
  environOf,
  isAlive,
  startOnair,
  type OnairProcess,
} from '../helpers/onair-process.ts';

let work: string;
let source: string;
let onair: OnairProcess | undefined;
const clients: { disconnect(): void }[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-faults-'));
  source = await makeSource(path.join(work, 'talk.mp4'), { width: 1280, height: 720, seconds: 30 });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  onair?.kill('SIGKILL');
  await onair?.exited;
  fs.rmSync(work, { recursive: true, force: true });
});

async function healthz(url: string): Promise<{ status: number; ms: number; body: Record<string, unknown> }> {
  const started = Date.now();
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
  return {
    status: response.status,
    ms: Date.now() - started,
    body: (await response.json()) as Record<string, unknown>,
  };
}

/** JSON log lines of one message, by the pid or role that wrote them. */
function logLines(output: string, msg: string): { role: string; pid?: number }[] {
  return output
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { msg: string; role: string; pid?: number }];
      } catch {
        return []; // not one of our JSON lines
      }
    })
    .filter((l) => l.msg === msg);
}

describe('embedded Redis killed mid-work', () => {
  it('comes back by itself with its jobs; /healthz answers 503 within a second meanwhile; every role reconnects and logs the outage once', async () => {
    const dataDir = path.join(work, 'data');
    onair = await startOnair(dataDir);
    const client = new OnairClient(onair.url, onair.apiKey);
    const children = childProcesses(onair.pid);
    const worker = children.find((c) => c.cmdline.includes('workers/main.ts'))!;
    const ingest = children.find((c) => c.cmdline.includes('live/ingest-main.ts'))!;
    expect(worker).toBeDefined();
    expect(ingest).toBeDefined();
    const redisUrl = environOf(worker.pid, 'REDIS_URL')!;
    const pidFile = path.join(dataDir, 'redis', 'redis.pid');
    const redisPid = Number(fs.readFileSync(pidFile, 'utf8'));

    // A reminder mail due in an hour: a delayed BullMQ job, only in Redis.
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    clients.push(connection);
    const email = new Queue('email', { connection });
    email.on('error', () => undefined); // the outage below; asserted through the job afterwards
    await email.add(
      'send-email',
      {
        kind: 'reminder',
        registrantId: 'rg_faults',
        sessionAt: new Date(Date.now() + 7200_000).toISOString(),
      },
      { jobId: 'faults-reminder', delay: 3600_000 },
    );

    const asset = await client.upload(source, 'mid-work');
    await until('the transcode to be under way', async () => {
      const a = await client.getAsset(asset.id);
      return a.stage === 'transcoding' && a.progress > 0;
    });

    // Hung, not dead (SIGSTOP): every check is time-boxed, so /healthz still answers.
    process.kill(redisPid, 'SIGSTOP');
    try {
      const hung = await healthz(onair.url);
      expect(hung.status).toBe(503);
      expect(hung.ms).toBeLessThan(1000);
      expect(hung.body).toMatchObject({ redis: false, database: true });
    } finally {
      process.kill(redisPid, 'SIGCONT');
    }
    await until('/healthz 200 after SIGCONT', async () => (await healthz(onair!.url)).status === 200);

    const outputBefore = onair.output().length;
    process.kill(redisPid, 'SIGKILL');
    const down = await healthz(onair.url);
    expect(down.status).toBe(503);
    expect(down.ms).toBeLessThan(1000);
    expect(down.body).toMatchObject({ redis: false, database: true });

    // Back by itself: a new redis-server, same port and password (the URL every role holds).
    await until('redis-server to be restarted', () => {
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      return pid !== redisPid && isAlive(pid);
    });
    await until('/healthz 200', async () => (await healthz(onair!.url)).status === 200);
    expect(await connection.ping()).toBe('PONG');

    // The transcode that was running finishes; the delayed reminder is still waiting its turn.
    const done = await client.waitForAsset(asset.id, undefined, 250);
    expect(done.status, done.error ?? '').toBe('ready');
    const reminder = await email.getJob('faults-reminder');
    expect(await reminder?.getState()).toBe('delayed');
    await email.close();

    // The worker and the ingest rode it out in the same processes, and the ingest works again.
    expect(isAlive(worker.pid)).toBe(true);
    expect(isAlive(ingest.pid)).toBe(true);
    const event = await apiCall<{ id: string; live: { streamKey: string } }>(
      { url: onair.url, apiKey: onair.apiKey },
      'POST',
      '/api/events',
      { title: 'After the outage', type: 'live' },
    );
    expect(event.status).toBe(201);
    const publish = await obsLikePublish(`${onair.rtmpUrl}/${event.json.live.streamKey}`);
    expect(publish.code).toBe('NetStream.Publish.Start');

    // One line for the outage and one for the recovery per process, not one per retry.
    const output = onair.output().slice(outputBefore);
    expect(output).not.toContain('Unhandled error event');
    expect(logLines(output, 'embedded redis exited; restarting it')).toHaveLength(1);
    expect(logLines(output, 'embedded redis restarted')).toHaveLength(1);
    for (const pid of [worker.pid, ingest.pid]) {
      const lost = logLines(output, 'redis unreachable; retrying').filter((l) => l.pid === pid);
      const back = logLines(output, 'redis reachable again').filter((l) => l.pid === pid);
      expect(lost.length, `pid ${pid}`).toBeLessThanOrEqual(1);
      expect(back.length, `pid ${pid}`).toBe(lost.length);
    }
    const server = (msg: string) => logLines(output, msg).filter((l) => l.role === 'server');
    expect(server('redis unreachable; retrying').length).toBeLessThanOrEqual(1);
    expect(server('redis reachable again').length).toBe(server('redis unreachable; retrying').length);
    expect(output.split('\n').filter((l) => l.includes('ECONNREFUSED')).length).toBeLessThanOrEqual(3);

    onair.kill('SIGTERM');
    expect(await onair.exited).toBe(0);
  });
});
