/**
 * Hostile clients against a real onair (embedded Redis, SQLite, a worker, a real upload): each case
 * is a hole an outside review found; knowing an identifier must grant nothing, bad input must get
 * a 4xx and change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personalLinks, signBound } from '../../src/automated/links.ts';
import { addApiKey, createAccount, generateApiKey } from '../../src/db/accounts.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { signValue, unsignValue } from '../../src/origin/tokens.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { startSmtpServer } from '../helpers/smtp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let secret: string;
let db: Db;
let assetId: string;
/** A second account, with its own key: what one account holds, the other must not reach. */
let otherKey: string;
let otherAccountId: string;
let otherAssetId: string;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'optional' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: '2026-11',
};

interface EventJson {
  id: string;
  webinarId: string;
  [field: string]: unknown;
}
interface InfoJson {
  state: string;
  playback: { master: string; view: string; poster: string | null } | null;
  selfServiceUrl: string | null;
  session?: { startsAt: string } | null;
  error?: { code: string; message: string };
}

async function api<T = Record<string, unknown>>(
  method: string,
  route: string,
  body?: unknown,
  key = server.apiKey,
): Promise<{ status: number; json: T }> {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as T };
}

const digits = (webinarId: string) => webinarId.replace(/-/g, '');

async function createEvent(extra: Record<string, unknown> = {}, key = server.apiKey): Promise<EventJson> {
  const { status, json } = await api<EventJson>(
    'POST',
    '/api/events',
    { title: 'Trust', type: 'on_demand', assetId, gate: GATE, ...extra },
    key,
  );
  expect(status, JSON.stringify(json)).toBe(201);
  return json;
}

async function page(
  event: EventJson,
  route: string,
  init: { method?: string; body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: InfoJson; cookies: string[] }> {
  const response = await fetch(`${server.url}/w/${digits(event.webinarId)}${route}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.cookie ? { cookie: init.cookie } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    json: (text ? JSON.parse(text) : {}) as InfoJson,
    cookies: response.headers.getSetCookie().map((c) => c.split(';')[0]!),
  };
}

const register = (event: EventJson, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  page(event, '/register', { method: 'POST', body: { noticeVersion: '2026-11', ...body }, headers });

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-trust-'));
  smtp = await startSmtpServer();
  server = await startTestServer({ REGISTER_RATE_PER_MINUTE: '200', SMTP_URL: smtp.url });
  secret = server.secret;
  db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 4 });
  const uploaded = await server.client.upload(source, 'talk');
  const ready = await server.client.waitForAsset(uploaded.id, undefined, 200);
  expect(ready.status, ready.error ?? '').toBe('ready');
  assetId = ready.id;
  const other = await createAccount(db, 'Other Co');
  otherAccountId = other.id;
  otherKey = generateApiKey();
  await addApiKey(db, other.id, otherKey, 'test');
  const otherClient = new OnairClient(server.url, otherKey);
  const theirs = await otherClient.upload(source, 'their talk');
  expect((await otherClient.waitForAsset(theirs.id, undefined, 200)).status).toBe('ready');
  otherAssetId = theirs.id;
});

afterAll(async () => {
  await db?.destroy();
  await server?.close();
  await smtp?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('1. registration with someone else’s email', () => {
  it('grants watching but never their data page, consent, name, vote or erasure', async () => {
    const event = await createEvent();
    const victim = await register(event, {
      email: 'victim@example.com',
      name: 'Vera',
      company: 'Victim Corp',
      marketingConsent: false,
    });
    expect(victim.status).toBe(201);
    expect(victim.json.selfServiceUrl).toMatch(/\/me\//);

    const attacker = await register(event, {
      email: 'VICTIM@example.com',
      name: 'Mallory',
      company: 'Evil Inc',
      marketingConsent: true,
    });
    // Same answer code, playable, but no data link and a cookie that is not the owner's.
    expect(attacker.status).toBe(201);
    expect(attacker.json.state).toBe('playable');
    expect(attacker.json.selfServiceUrl).toBeNull();
    const reload = await page(event, '/info.json', { cookie: attacker.cookies[0] });
    expect(reload.json.state).toBe('playable');
    expect(reload.json.selfServiceUrl).toBeNull();

    const row = await db
      .selectFrom('registrants')
      .selectAll()
      .where('email', '=', 'victim@example.com')
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: 'Vera', company: 'Victim Corp', marketing_consent: 0 });
    const consents = await db
      .selectFrom('consents')
      .selectAll()
      .where('registrant_id', '=', row.id)
      .execute();
    expect(consents.map((c) => `${c.purpose}:${c.granted}:${c.source}`)).toEqual([
      'access:1:registration',
      'marketing:0:registration',
    ]);

    // The victim's own browser still has its data page.
    const own = await page(event, '/info.json', { cookie: victim.cookies[0] });
    expect(own.json.selfServiceUrl).toBe(victim.json.selfServiceUrl);
  });

  it('a link mailed to the address makes that browser the registrant’s own', async () => {
    const event = await createEvent();
    await register(event, { email: 'mailbox@example.com' });
    const stranger = await register(event, { email: 'mailbox@example.com' });
    expect(stranger.json.selfServiceUrl).toBeNull();
    const row = await db
      .selectFrom('registrants')
      .selectAll()
      .where('email', '=', 'mailbox@example.com')
      .executeTakeFirstOrThrow();
    const eventRow = await db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', event.id)
      .executeTakeFirstOrThrow();
    const links = personalLinks(server.url, eventRow, row.id, secret);
    const k = new URL(links.join).searchParams.get('k')!;
    const joined = await page(event, `/info.json?k=${encodeURIComponent(k)}`);
    expect(joined.json.selfServiceUrl).toBe(links.selfService);
    // The same link for another event, or with another purpose, opens nothing.
    const other = await createEvent();
    expect((await page(other, `/info.json?k=${encodeURIComponent(k)}`)).json.selfServiceUrl).toBeNull();
    const unsub = new URL(links.unsubscribe).pathname.split('/').pop()!;
    expect((await fetch(`${server.url}/me/${unsub}/status.json`)).status).toBe(404);
    // A link in the old, unbound form (`me|<registrant id>`) is refused.
    const legacy = encodeURIComponent(signValue(`me|${row.id}`, secret));
    expect((await fetch(`${server.url}/me/${legacy}/status.json`)).status).toBe(404);
  });

  it('the data page corrects, restricts and records each change; consent history is append-only', async () => {
    const event = await createEvent();
    const reg = await register(event, { email: 'rights@example.com', name: 'Rita', marketingConsent: true });
    const me = reg.json.selfServiceUrl!;
    const post = (action: string, body: unknown) =>
      fetch(`${me}/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('rectify', { name: 'Rita Levi', company: 'Acme' })).status).toBe(204);
    expect((await post('rectify', { name: 'x'.repeat(101) })).status).toBe(400);
    expect((await post('rectify', { name: 'Rita\u0000' })).status).toBe(400);
    expect((await post('restrict', { restricted: true })).status).toBe(204);
    const status = (await (await fetch(`${me}/status.json`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ name: 'Rita Levi', company: 'Acme', restricted: true });
    // Restricted: out of marketing in the marketer's list and export.
    const list = await api<{
      registrants: { email: string; marketingConsent: boolean; restricted: boolean }[];
    }>('GET', `/api/events/${event.id}/registrants`);
    expect(list.json.registrants[0]).toMatchObject({ marketingConsent: false, restricted: true });
    // Restricted: heartbeats are not recorded.
    const beat = await page(event, '/heartbeat', {
      method: 'POST',
      body: { view: reg.json.playback!.view, position: 1, played: 1 },
      cookie: reg.cookies[0],
    });
    expect(beat.status).toBe(204);
    const seen = await db.selectFrom('view_sessions').selectAll().where('event_id', '=', event.id).execute();
    expect(seen).toHaveLength(0);
    expect((await post('restrict', { restricted: false })).status).toBe(204);
    const data = (await (await fetch(`${me}/data.json`)).json()) as {
      consents: { purpose: string; granted: boolean; source: string }[];
    };
    const history = data.consents.map((c) => `${c.purpose}:${c.granted}:${c.source}`);
    // The two registration records share their instant: their order between them is free.
    expect([...history.slice(0, 2)].sort()).toEqual([
      'access:true:registration',
      'marketing:true:registration',
    ]);
    expect(history.slice(2)).toEqual([
      'rectification:true:self_service',
      'restriction:true:self_service',
      'restriction:false:self_service',
    ]);
    // The marketer can do the same through the API, recorded as theirs.
    const rid = (
      await db
        .selectFrom('registrants')
        .select('id')
        .where('email', '=', 'rights@example.com')
        .executeTakeFirstOrThrow()
    ).id;
    const patched = await api('PATCH', `/api/events/${event.id}/registrants/${rid}`, { restricted: true });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ restricted: true });
    expect(
      (await api('PATCH', `/api/events/${event.id}/registrants/${rid}`, { email: 'x@y.z' })).status,
    ).toBe(400);
    // Another account's key reaches none of it.
    expect(
      (await api('PATCH', `/api/events/${event.id}/registrants/${rid}`, { restricted: false }, otherKey))
        .status,
    ).toBe(404);
  });
});

describe('1b. the mailbox is how a registrant gets back to their own registration', () => {
  it('mails the personal links on registering, and again (at most hourly) when the address is typed elsewhere', async () => {
    const event = await createEvent();
    const mailsTo = (to: string) => smtp.mails.filter((m) => m.to === to);
    await register(event, { email: 'owner@example.com', name: 'Olga' });
    const first = await until('the registration mail', () => mailsTo('owner@example.com')[0], 20_000);
    expect(first.parsed.subject).toBe("You're registered: Trust");
    const other = await register(event, { email: 'owner@example.com' });
    expect(other.json.selfServiceUrl).toBeNull();
    const again = await until('the "again" mail', () => mailsTo('owner@example.com')[1], 20_000);
    expect(again.parsed.text).toContain('another browser');
    // The link from the mailbox makes a fresh browser the registration's own.
    const join = /(http:\/\/\S+\?k=\S+)/.exec(again.parsed.text ?? '')![1]!;
    const k = new URL(join).searchParams.get('k')!;
    const joined = await page(event, `/info.json?k=${encodeURIComponent(k)}`);
    expect(joined.json.selfServiceUrl).toMatch(/\/me\//);
    // Typing the address again within the hour sends nothing more.
    await register(event, { email: 'owner@example.com' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(mailsTo('owner@example.com')).toHaveLength(2);
  });
});

describe('2. PATCH /api/events/:id changes only the fields it names', () => {
  const iso = (days: number) => new Date(Date.UTC(2030, 0, 1) + days * 86_400_000).toISOString();

  async function snapshot(id: string): Promise<Record<string, unknown>> {
    const { json } = await api<Record<string, unknown>>('GET', `/api/events/${id}`);
    const { updatedAt: _u, ...rest } = json;
    return rest;
  }

  const cases: [string, Record<string, unknown>, string[]][] = [
    ['ended', { ended: true }, ['endedAt']],
    ['title', { title: 'New title' }, ['title', 'embedHtml']],
    ['description', { description: 'New words' }, ['description']],
    ['startsAt', { startsAt: iso(3) }, ['startsAt']],
    ['replayExpiresAt', { replayExpiresAt: iso(900) }, ['replayExpiresAt']],
    ['gate', { gate: { ...GATE, privacyNoticeVersion: '2026-12' } }, ['gate']],
    ['assetId', { assetId: '__asset__' }, []],
  ];

  for (const [field, patch, changes] of cases) {
    it(`${field} alone`, async () => {
      const event = await createEvent({
        description: 'Keep me',
        replayExpiresAt: iso(400),
        startsAt: iso(1),
      });
      const before = await snapshot(event.id);
      const body = JSON.parse(JSON.stringify(patch).replace('__asset__', assetId)) as Record<string, unknown>;
      const { status, json } = await api('PATCH', `/api/events/${event.id}`, body);
      expect(status, JSON.stringify(json)).toBe(200);
      const after = await snapshot(event.id);
      for (const key of Object.keys(before)) {
        if (changes.includes(key)) expect(after[key], key).not.toEqual(before[key]);
        else expect(after[key], key).toEqual(before[key]);
      }
    });
  }

  it('streamKeyDisabled alone (live), schedule and interactions alone (automated)', async () => {
    const live = await createEvent({ type: 'live', assetId: null, description: 'Live words' });
    const beforeLive = await snapshot(live.id);
    expect((await api('PATCH', `/api/events/${live.id}`, { streamKeyDisabled: true })).status).toBe(200);
    const afterLive = await snapshot(live.id);
    expect(afterLive.live).toMatchObject({ streamKeyDisabled: true });
    expect({ ...afterLive, live: undefined }).toEqual({ ...beforeLive, live: undefined });

    const auto = await createEvent({
      type: 'automated',
      description: 'Auto words',
      schedule: { kind: 'on_demand', timezone: 'Europe/Rome' },
      interactions: { ctas: [], polls: [], chat: [{ id: 'hi', at: 1, author: 'Host', text: 'Hello' }] },
    });
    const beforeAuto = await snapshot(auto.id);
    const schedule = { kind: 'on_demand', timezone: 'America/New_York' };
    expect((await api('PATCH', `/api/events/${auto.id}`, { schedule })).status).toBe(200);
    const afterSchedule = await snapshot(auto.id);
    expect(afterSchedule.schedule).toMatchObject(schedule);
    expect({ ...afterSchedule, schedule: undefined }).toEqual({ ...beforeAuto, schedule: undefined });
    const interactions = { ctas: [], polls: [], chat: [] };
    expect((await api('PATCH', `/api/events/${auto.id}`, { interactions })).status).toBe(200);
    const afterInteractions = await snapshot(auto.id);
    expect(afterInteractions.interactions).toEqual(interactions);
    expect({ ...afterInteractions, interactions: undefined }).toEqual({
      ...afterSchedule,
      interactions: undefined,
    });
  });

  it('refuses a misspelt field, a type change and a null asset, changing nothing', async () => {
    const event = await createEvent({ description: 'Stay' });
    const before = await snapshot(event.id);
    for (const body of [
      { gatee: null },
      { type: 'live' },
      { assetId: null },
      { title: '' },
      { schedule: { kind: 'on_demand', timezone: 'UTC' } },
    ]) {
      const { status, json } = await api<{ error: { message: string } }>(
        'PATCH',
        `/api/events/${event.id}`,
        body,
      );
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.error.message.length).toBeGreaterThan(10);
    }
    expect(await snapshot(event.id)).toEqual(before);
  });
});

describe('3. automated-webinar session cookies are bound to their webinar and checked against its schedule', () => {
  it('a cookie from an on-demand webinar does not play another account’s future session', async () => {
    const onDemand = await createEvent({
      type: 'automated',
      gate: null,
      schedule: { kind: 'on_demand', timezone: 'UTC' },
    });
    const picked = await page(onDemand, '/session', { method: 'POST', body: { sessionAt: 'now' } });
    expect(picked.status).toBe(200);
    expect(picked.json.state).toBe('playable');
    const cookie = picked.cookies.find((c) => c.startsWith('onair_s_'))!;
    expect(cookie).toBeTruthy();

    const future = new Date(Date.now() + 7 * 86_400_000);
    future.setUTCSeconds(0, 0);
    const target = await createEvent(
      {
        type: 'automated',
        assetId: otherAssetId,
        gate: null,
        schedule: { kind: 'once', startsAt: future.toISOString(), timezone: 'UTC' },
      },
      otherKey,
    );
    // The same value under the target's cookie name.
    const moved = cookie.replace(
      `onair_s_${digits(onDemand.webinarId)}`,
      `onair_s_${digits(target.webinarId)}`,
    );
    const stolen = await page(target, '/info.json', { cookie: moved });
    expect(stolen.json.state).not.toBe('playable');
    expect(stolen.json.playback).toBeNull();

    // Even a cookie correctly signed for the target must name one of its sessions.
    const targetRow = await db
      .selectFrom('events')
      .selectAll()
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    expect(targetRow.account_id).toBe(otherAccountId);
    const forged = signBound(
      'session',
      targetRow,
      [String(Math.floor(Date.now() / 1000) - 1)],
      secret,
      Math.floor(Date.now() / 1000) + 3600,
    );
    const offSchedule = await page(target, '/info.json', {
      cookie: `onair_s_${digits(target.webinarId)}=${forged}`,
    });
    expect(offSchedule.json.state).toBe('choose');
    expect(offSchedule.json.playback).toBeNull();
  });

  it('a browser that typed a registrant’s email cannot move their booking', async () => {
    const start = new Date(Date.now() + 86_400_000);
    start.setUTCMinutes(0, 0, 0);
    const event = await createEvent({
      type: 'automated',
      schedule: {
        kind: 'recurring',
        start: start.toISOString().slice(0, 16),
        rrule: 'FREQ=DAILY',
        timezone: 'UTC',
      },
    });
    const first = start.toISOString();
    const second = new Date(start.getTime() + 86_400_000).toISOString();
    await register(event, { email: 'booked@example.com', sessionAt: first });
    const other = await register(event, { email: 'booked@example.com', sessionAt: second });
    expect(other.status).toBe(201);
    expect(other.json.session?.startsAt).toBe(second);
    await page(event, '/session', {
      method: 'POST',
      body: { sessionAt: second },
      cookie: other.cookies.join('; '),
    });
    const row = await db
      .selectFrom('registrants')
      .select('session_at')
      .where('email', '=', 'booked@example.com')
      .executeTakeFirstOrThrow();
    expect(row.session_at).toBe(first);
  });
});

describe('5. links never come from the Host header', () => {
  it('a registration sent with Host: evil.example queues mail and answers with configured links', async () => {
    const start = new Date(Date.now() + 3 * 86_400_000);
    start.setUTCMinutes(0, 0, 0);
    const event = await createEvent({
      type: 'automated',
      schedule: { kind: 'once', startsAt: start.toISOString(), timezone: 'UTC' },
    });
    const evil = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const reg = await register(event, { email: 'hosted@example.com' }, evil);
    expect(reg.status).toBe(201);
    expect(JSON.stringify(reg.json)).not.toContain('evil.example');
    const created = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json', ...evil },
      body: JSON.stringify({ title: 'Live', type: 'live' }),
    });
    expect(await created.text()).not.toContain('evil.example');
    const redis = new Redis(server.redisUrl, { maxRetriesPerRequest: 1 });
    const queue = new Queue('email', { connection: redis });
    try {
      const jobs = await queue.getJobs(['delayed', 'waiting', 'completed', 'active', 'failed']);
      const mine = jobs.filter((j) => JSON.stringify(j.data).includes('"baseUrl"'));
      expect(mine.length).toBeGreaterThan(0);
      for (const job of mine) expect((job.data as { baseUrl: string }).baseUrl).toBe(server.url);
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});

describe('7. stored URLs are http(s); pages carry a Content-Security-Policy and framing rules', () => {
  it('refuses javascript:, data: and credentials in URLs', async () => {
    for (const privacyNoticeUrl of [
      'javascript:alert(1)',
      'data:text/html,hi',
      'https://user:pw@example.com/p',
      'ftp://example.com/p',
    ]) {
      const { status } = await api('POST', '/api/events', {
        title: 'x',
        type: 'on_demand',
        assetId,
        gate: { ...GATE, privacyNoticeUrl },
      });
      expect(status, privacyNoticeUrl).toBe(400);
    }
    const event = await createEvent();
    const patched = await api('PATCH', `/api/events/${event.id}`, {
      gate: { ...GATE, privacyNoticeUrl: 'javascript:alert(1)' },
    });
    expect(patched.status).toBe(400);
    const cta = await api('POST', '/api/events', {
      title: 'x',
      type: 'automated',
      assetId,
      schedule: { kind: 'on_demand', timezone: 'UTC' },
      interactions: {
        ctas: [{ id: 'c', headline: 'h', buttonLabel: 'b', url: 'javascript:alert(1)', start: 0, end: 1 }],
      },
    });
    expect(cta.status).toBe(400);
  });

  it('every page: CSP with no inline script or style; viewer pages embeddable, admin and data pages never framed', async () => {
    const event = await createEvent();
    const reg = await register(event, { email: 'csp@example.com' });
    const pages = {
      admin: '/admin',
      root: '/',
      join: '/join',
      event: `/w/${digits(event.webinarId)}`,
      me: new URL(reg.json.selfServiceUrl!).pathname,
      play: `/play/${assetId}`,
    };
    for (const [name, route] of Object.entries(pages)) {
      const response = await fetch(`${server.url}${route}`);
      expect(response.status, name).toBe(200);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp, name).toContain("script-src 'self'");
      expect(csp, name).not.toContain('unsafe-inline');
      expect(response.headers.get('x-frame-options'), name).not.toBe('ALLOWALL');
      const html = await response.text();
      expect(html, name).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html, name).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
      if (name === 'event' || name === 'join' || name === 'play')
        expect(csp, name).toContain('frame-ancestors *');
      else {
        expect(csp, name).toContain("frame-ancestors 'none'");
        expect(response.headers.get('x-frame-options'), name).toBe('DENY');
      }
    }
    for (const css of ['base', 'admin', 'event', 'join', 'me', 'play']) {
      expect((await fetch(`${server.url}/player/${css}.css`)).status, css).toBe(200);
    }
  });
});

describe('9. only a viewer the page admitted reports watching, at most wall-clock time', () => {
  it('anonymous heartbeats are refused; a granted viewing earns no more than the time that passed', async () => {
    const event = await createEvent({ gate: null });
    for (let i = 0; i < 50; i++) {
      const beat = await page(event, '/heartbeat', {
        method: 'POST',
        body: { sessionId: `fake-session-${String(i).padStart(8, '0')}`, position: 3.9, played: 15 },
      });
      expect([400, 403]).toContain(beat.status);
    }
    // Forged grants: unsigned, another event's, another purpose.
    const info = await page(event, '/info.json');
    expect(info.json.state).toBe('playable');
    const grant = info.json.playback!.view;
    const other = await createEvent({ gate: null });
    const elsewhere = (await page(other, '/info.json')).json.playback!.view;
    const value = unsignValue(grant, secret)!;
    for (const view of [value, elsewhere, signValue(value.replace(/^view\|/, 'session|'), secret)]) {
      const beat = await page(event, '/heartbeat', {
        method: 'POST',
        body: { view, position: 1, played: 1 },
      });
      expect(beat.status).toBe(403);
    }
    for (let i = 0; i < 50; i++) {
      await page(event, '/heartbeat', { method: 'POST', body: { view: grant, position: 3.9, played: 15 } });
    }
    const analytics = await api<{ viewers: number; averageWatchSeconds: number }>(
      'GET',
      `/api/events/${event.id}/analytics`,
    );
    expect(analytics.json.viewers).toBe(1);
    expect(analytics.json.averageWatchSeconds).toBeLessThanOrEqual(5);
  });
});

describe('10. malformed input gets a 4xx, never a 5xx', () => {
  it('broken cookie encodings, over-long ids, NUL bytes and lone surrogates', async () => {
    const event = await createEvent();
    const id = digits(event.webinarId);
    for (const cookie of [
      `onair_w_${id}=%E0%A4%A`,
      `onair_s_${id}=%`,
      `onair_w_${id}=${'%41'.repeat(5000)}`,
    ]) {
      const info = await page(event, '/info.json', { cookie });
      expect(info.status, cookie).toBe(200);
      expect(info.json.state).toBe('gated');
      const reg = await register(event, { email: 'cookie@example.com' }, { cookie });
      expect(reg.status, cookie).toBeLessThan(500);
    }
    expect((await fetch(`${server.url}/play/${'a'.repeat(5000)}/source.json`)).status).toBe(400);
    expect((await fetch(`${server.url}/play/${'a'.repeat(65)}/source.json?t=x`)).status).toBe(400);
    for (const name of ['Ada\u0000', 'Ada\uD800', '\uDC00Ada']) {
      const reg = await register(event, { email: 'text@example.com', name });
      expect(reg.status, JSON.stringify(name)).toBe(400);
    }
    const nul = await api('POST', '/api/events', { title: 'Bad\u0000title', type: 'live' });
    expect(nul.status).toBe(400);
    expect((await fetch(`${server.url}/w/${id}/info.json?x=%00`)).status).toBe(400);
    expect((await fetch(`${server.url}/w/%E0%A4%A/info.json`)).status).toBe(400);
    const count = await db
      .selectFrom('registrants')
      .select(db.fn.countAll().as('n'))
      .where('email', 'in', ['text@example.com'])
      .executeTakeFirst();
    expect(Number(count?.n)).toBe(0);
  });
});

describe('uploads read nothing but themselves', () => {
  it('an HLS playlist posing as a recording, pointing at another local file, is refused', async () => {
    const secretMedia = await makeSource(path.join(work, 'private.ts'), {
      width: 160,
      height: 90,
      seconds: 1,
    });
    const playlist = path.join(work, 'sneaky.mp4');
    fs.writeFileSync(
      playlist,
      `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://${secretMedia}\n#EXT-X-ENDLIST\n`,
    );
    const uploaded = await server.client.upload(playlist, 'sneaky');
    const done = await server.client.waitForAsset(uploaded.id, undefined, 200);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/not a recording onair can read/);
  });
});
