import dns from 'node:dns/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import type { Logger } from '../../src/log.ts';
import { classifyAddress } from '../../src/net/outbound-guard.ts';
import { JobQueues, type JobPayload } from '../../src/queue/catalogue.ts';
import { connectRedis } from '../../src/queue/redis.ts';
import { verifyWebhook } from '../../src/services/webhooks.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { HlsSink } from '../../src/media/hls-sink.ts';
import { createDeliverWebhookProcessor } from '../../workers/deliver-webhook.ts';
import { apiCall, until } from '../helpers/api.ts';
import { startTestServer } from '../helpers/server.ts';
import { Metrics } from '../../src/services/metrics.ts';

// A receiver on this machine: what an attacker would aim webhooks at (the API, redis, a
// metadata service...). Every request it gets is recorded.
interface Received {
  path: string;
  body: string;
  signature: string;
}
const received: Received[] = [];
let listener: http.Server;
let port: number;

beforeAll(async () => {
  listener = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body, signature: String(req.headers['onair-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

/** This machine's own name when the system resolver maps it to a non-public address (it usually does). */
async function loopbackName(): Promise<string | undefined> {
  const name = os.hostname();
  const answers = await dns.lookup(name, { all: true }).catch(() => []);
  return answers.length > 0 && answers.some((a) => classifyAddress(a.address) !== 'public')
    ? name
    : undefined;
}

/** A server with its own worker, its database opened alongside, and a producer on its queues. */
async function startWithQueues(env: Record<string, string>) {
  const server = await startTestServer({ INGEST: 'off', WORKERS: '1', ...env });
  const db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
  const redis = connectRedis(server.redisUrl);
  const queues = new JobQueues(redis);
  return {
    server,
    db,
    redis,
    queues,
    async close() {
      await queues.close();
      redis.disconnect();
      await db.destroy();
      await server.close();
    },
  };
}

async function deliverThroughQueue(queues: JobQueues, webhookId: string, deliveryId: string) {
  const body = JSON.stringify({ id: deliveryId, type: 'live.started', data: { n: deliveryId } });
  await queues.add(
    'deliver-webhook',
    { webhookId, deliveryId, type: 'live.started', body },
    `wh-${deliveryId}`,
  );
  const job = await until(`job ${deliveryId} to settle`, async () => {
    // The state first, then the job: a job read before its state settled may still say attempt 0.
    const state = await queues.queue('webhooks').getJobState(`wh-${deliveryId}`);
    if (state !== 'completed' && state !== 'failed' && state !== 'delayed') return undefined;
    const j = await queues.queue('webhooks').getJob(`wh-${deliveryId}`);
    return j ? { job: j, state } : undefined;
  });
  return { ...job, body };
}

describe('webhooks are refused for non-public targets (default)', () => {
  let env: Awaited<ReturnType<typeof startWithQueues>>;
  beforeAll(async () => {
    env = await startWithQueues({});
  });
  afterAll(async () => {
    await env?.close();
  });

  it('refuses registration with a 400 that says why, in every notation, and stores nothing', async () => {
    const api = <T>(method: string, url: string, body?: unknown) => apiCall<T>(env.server, method, url, body);
    const refused = [
      `http://127.0.0.1:${port}/hook`,
      `http://2130706433:${port}/hook`,
      `http://0x7f000001:${port}/hook`,
      `http://0177.0.0.1:${port}/hook`,
      `http://127.1:${port}/hook`,
      `http://%31%32%37.0.0.1:${port}/hook`,
      `http://127.0.0.1.:${port}/hook`,
      `HTTP://127.0.0.1:${port}/hook`,
      `http://evil@127.0.0.1:${port}/hook`,
      `http://evil.example@127.0.0.1:${port}/hook`,
      `http://[::1]:${port}/hook`,
      `http://[::ffff:127.0.0.1]:${port}/hook`,
      `http://[::ffff:7f00:1]:${port}/hook`,
      `http://[64:ff9b::7f00:1]:${port}/hook`,
      `http://[2002:7f00:1::]:${port}/hook`,
      `http://localhost:${port}/hook`,
      `http://localhost.:${port}/hook`,
      `http://LOCALHOST:${port}/hook`,
      `http://%6c%6fcalhost:${port}/hook`,
      `http://hooks.localhost:${port}/hook`,
      `http://0.0.0.0:${port}/hook`,
      `http://0:${port}/hook`,
      `http://[::]:${port}/hook`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:169.254.169.254]/latest/meta-data/',
      'http://10.0.0.1/hook',
      'http://172.16.5.4/hook',
      'http://192.168.1.1/hook',
      'http://100.64.0.1/hook',
      'http://[fe80::1]/hook',
      'http://[fd00::1]/hook',
      'http://224.0.0.1/hook',
      'http://255.255.255.255/hook',
    ];
    const name = await loopbackName();
    if (name) refused.push(`http://${name}:${port}/hook`); // resolved by the system resolver
    for (const url of refused) {
      const res = await api<{ error: { code: string; message: string } }>('POST', '/api/webhooks', { url });
      expect(res.status, url).toBe(400);
      expect(res.json.error.message, url).toMatch(/only sends webhooks to public internet addresses/);
    }

    const others: [string, RegExp][] = [
      ['http://onair-nowhere.invalid/hook', /does not resolve/],
      ['ftp://example.com/hook', /http:\/\/ or https:\/\//],
      ['file:///etc/passwd', /http:\/\/ or https:\/\//],
      ['http://user:pw@93.184.215.14/hook', /user name or password/],
      ['http://93.184.215.14:0/hook', /port 0/],
    ];
    for (const [url, why] of others) {
      const res = await api<{ error: { message: string } }>('POST', '/api/webhooks', { url });
      expect(res.status, url).toBe(400);
      expect(res.json.error.message, url).toMatch(why);
    }

    expect((await api<{ webhooks: unknown[] }>('GET', '/api/webhooks')).json.webhooks).toEqual([]);
    const rows = await env.db.selectFrom('webhooks').select('id').execute();
    expect(rows).toEqual([]);
    expect(received).toEqual([]);
  });

  it('checks again at delivery: a stored URL that now points here is not delivered, and is not retried', async () => {
    // Registered with a public address (no DNS needed), then pointed at this machine behind the
    // API's back: an edited row, or a name whose DNS answer changed after registration.
    const created = await apiCall<{ id: string; secret: string }>(env.server, 'POST', '/api/webhooks', {
      url: 'http://93.184.215.14/hook',
    });
    expect(created.status).toBe(201);
    const targets = [
      `http://127.0.0.1:${port}/late`,
      `http://localhost:${port}/late`,
      `http://[::ffff:7f00:1]:${port}/late`,
    ];
    const name = await loopbackName();
    if (name) targets.push(`http://${name}:${port}/late`);
    for (const [i, url] of targets.entries()) {
      await env.db.updateTable('webhooks').set({ url }).where('id', '=', created.json.id).execute();
      const { job, state } = await deliverThroughQueue(env.queues, created.json.id, `late-${i}`);
      expect(state, url).toBe('failed');
      expect(job.attemptsMade, url).toBe(1); // UnrecoverableError: no retries
      expect(job.failedReason, url).toMatch(/only sends webhooks to public internet addresses/);
    }
    expect(received).toEqual([]);
  });

  it('logs the refusal with the webhook id, never its secret', async () => {
    const created = await apiCall<{ id: string; secret: string }>(env.server, 'POST', '/api/webhooks', {
      url: 'http://93.184.215.14/hook',
    });
    await env.db
      .updateTable('webhooks')
      .set({ url: `http://localhost:${port}/logged` })
      .where('id', '=', created.json.id)
      .execute();
    const lines: { msg: string; fields: Record<string, unknown> }[] = [];
    const log: Logger = {
      debug: (msg, fields = {}) => lines.push({ msg, fields }),
      info: (msg, fields = {}) => lines.push({ msg, fields }),
      warn: (msg, fields = {}) => lines.push({ msg, fields }),
      error: (msg, fields = {}) => lines.push({ msg, fields }),
      child: () => log,
    };
    const config = loadConfig({ DATA_DIR: env.server.dataDir });
    const storage = new LocalStorage(path.join(env.server.dataDir, 'media'));
    const sink = await HlsSink.start(storage);
    const processJob = createDeliverWebhookProcessor({
      metrics: new Metrics('worker'),
      db: env.db,
      storage,
      sink,
      scratchDir: env.server.dataDir,
      config,
      log,
      redis: env.redis,
      queues: env.queues,
      secret: env.server.secret,
    });
    const job = {
      data: { webhookId: created.json.id, deliveryId: 'logged', type: 'live.started', body: '{}' },
      attemptsMade: 0,
    } as Job<JobPayload<'deliver-webhook'>>;
    await expect(processJob(job)).rejects.toThrow(expect.objectContaining({ name: 'UnrecoverableError' }));
    await sink.close();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe('webhook delivery refused');
    expect(lines[0]!.fields.webhookId).toBe(created.json.id);
    expect(JSON.stringify(lines)).not.toContain(created.json.secret);
    expect(received).toEqual([]);
  });
});

describe('WEBHOOK_ALLOW_PRIVATE=true', () => {
  let env: Awaited<ReturnType<typeof startWithQueues>>;
  beforeAll(async () => {
    env = await startWithQueues({ WEBHOOK_ALLOW_PRIVATE: 'true' });
  });
  afterAll(async () => {
    await env?.close();
  });

  it('registers and delivers to the loopback listener, signed with the secret that is stored sealed', async () => {
    const created = await apiCall<{ id: string; url: string; secret: string }>(
      env.server,
      'POST',
      '/api/webhooks',
      {
        url: `http://127.0.0.1:${port}/open`,
      },
    );
    expect(created.status).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_/);
    const row = await env.db
      .selectFrom('webhooks')
      .select(['url', 'secret'])
      .where('id', '=', created.json.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^v1\./);
    expect(row.secret).not.toContain(created.json.secret.slice('whsec_'.length));

    const { state, body } = await deliverThroughQueue(env.queues, created.json.id, 'open-1');
    expect(state).toBe('completed');
    const got = received.find((r) => r.path === '/open');
    expect(got?.body).toBe(body);
    expect(verifyWebhook(created.json.secret, got!.body, got!.signature, Math.floor(Date.now() / 1000))).toBe(
      true,
    );
  });

  it('still delivers a legacy row whose secret is stored in clear', async () => {
    const account = await env.db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
    await env.db
      .insertInto('webhooks')
      .values({
        id: 'wh_legacyrow',
        account_id: account.id,
        url: `http://127.0.0.1:${port}/legacy`,
        secret: 'whsec_legacyclear',
        events_json: '["live.started"]',
        created_at: new Date().toISOString(),
      })
      .execute();
    const { state } = await deliverThroughQueue(env.queues, 'wh_legacyrow', 'legacy-1');
    expect(state).toBe('completed');
    const got = received.find((r) => r.path === '/legacy')!;
    expect(verifyWebhook('whsec_legacyclear', got.body, got.signature, Math.floor(Date.now() / 1000))).toBe(
      true,
    );
  });
});
