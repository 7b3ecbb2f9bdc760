import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.ts';
import { playbackKey, signedPath, signValue, unsignValue } from '../../src/origin/tokens.ts';
import { anonymiseExpiredRegistrants } from '../../src/services/retention.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let assetId: string;
let secret: string;

interface EventJson {
  id: string;
  webinarId: string;
  pageUrl: string;
}
interface InfoJson {
  state: string;
  playback: { master: string; storyboard: string | null; poster: string | null; view: string } | null;
  selfServiceUrl: string | null;
}

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'off' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: '2026-11',
};

async function api<T>(
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; json: T; text: string }> {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json: json as T, text };
}

async function createEvent(extra: Record<string, unknown> = {}): Promise<EventJson> {
  const created = await api<EventJson>('POST', '/api/events', {
    title: 'Pricing deep-dive',
    type: 'on_demand',
    assetId,
    gate: GATE,
    ...extra,
  });
  expect(created.status, created.text).toBe(201);
  return created.json;
}

const digits = (webinarId: string) => webinarId.replace(/-/g, '');

async function registerAs(
  event: EventJson,
  body: Record<string, unknown>,
): Promise<{
  status: number;
  json: InfoJson & { error?: { details: { field: string }[] } };
  cookie: string;
}> {
  const response = await fetch(`${server.url}/w/${digits(event.webinarId)}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ noticeVersion: '2026-11', ...body }),
  });
  return {
    status: response.status,
    json: (await response.json()) as InfoJson & { error?: { details: { field: string }[] } },
    cookie: response.headers.get('set-cookie')?.split(';')[0] ?? '',
  };
}

/** A viewing grant re-signed as if issued `seconds` earlier. */
function backdate(view: string, seconds: number): string {
  const fields = unsignValue(view, secret)!.split('|');
  fields[7] = String(Number(fields[7]) - seconds);
  return signValue(fields.join('|'), secret);
}

/**
 * A raw GET that keeps the path exactly as written (fetch would normalise `..`) and sends only the
 * headers given (fetch adds `Cache-Control: no-cache` to conditional requests).
 */
function rawGet(url: string, rawPath: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port, path: rawPath, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-gate-'));
  server = await startTestServer({ REGISTER_RATE_PER_MINUTE: '25' });
  secret = server.secret;
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 6 });
  const uploaded = await server.client.upload(source, 'talk');
  const ready = await server.client.waitForAsset(uploaded.id, undefined, 200);
  expect(ready.status, ready.error ?? '').toBe('ready');
  assetId = ready.id;
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('events', () => {
  it('get a random 9-digit webinar ID and a public page', async () => {
    const a = await createEvent();
    const b = await createEvent();
    expect(a.webinarId).toMatch(/^\d{3}-\d{3}-\d{3}$/);
    expect(a.webinarId).not.toBe(b.webinarId);
    expect(a.pageUrl).toBe(`${server.url}/w/${digits(a.webinarId)}`);
    const page = await fetch(`${server.url}/w/${a.webinarId}`, { redirect: 'manual' });
    expect(page.status).toBe(301);
    expect(page.headers.get('location')).toBe(`/w/${digits(a.webinarId)}`);
    expect((await fetch(`${server.url}/w/000000000/info.json`)).status).toBe(404);
  });

  it('validate their body with field-level errors', async () => {
    const noAsset = await api<{ error: { message: string } }>('POST', '/api/events', {
      title: 'x',
      type: 'on_demand',
    });
    expect(noAsset.status).toBe(400);
    expect(noAsset.json.error.message).toMatch(/assetId is required/);
    const noNotice = await api<{ error: { message: string } }>('POST', '/api/events', {
      title: 'x',
      type: 'on_demand',
      assetId,
      gate: { emailRequired: true },
    });
    expect(noNotice.status).toBe(400);
    expect(noNotice.json.error.message).toMatch(/privacyNoticeUrl/);
    const malformed = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: '{"title":',
    });
    expect(malformed.status).toBe(400);
  });
});

describe('the email gate and the origin', () => {
  it('shows the gate, refuses an invalid email with a field message, then grants signed playback', async () => {
    const event = await createEvent();
    const info = (await (
      await fetch(`${server.url}/w/${digits(event.webinarId)}/info.json`)
    ).json()) as InfoJson;
    expect(info.state).toBe('gated');
    expect(info.playback).toBeNull();

    const bad = await registerAs(event, { email: 'not-an-email' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.details.map((d) => d.field)).toEqual(['email']);

    const good = await registerAs(event, { email: 'Ada@Example.com', name: 'Ada' });
    expect(good.status).toBe(201);
    expect(good.json.state).toBe('playable');
    expect(good.cookie).toMatch(/^onair_w_\d{9}=/);
    const master = good.json.playback!.master;
    expect(master).toMatch(new RegExp(`/s/[A-Za-z0-9_-]{22}/\\d+/e/${digits(event.webinarId)}/rev_`));
    const masterResponse = await fetch(master);
    expect(masterResponse.status).toBe(200);
    expect(masterResponse.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(masterResponse.headers.get('access-control-allow-origin')).toBe('*');
    expect(parseMasterPlaylist(await masterResponse.text()).variants.length).toBeGreaterThan(0);

    // The cookie brings access back on reload; the same email (any case) is the same registrant.
    const again = (await (
      await fetch(`${server.url}/w/${digits(event.webinarId)}/info.json`, {
        headers: { cookie: good.cookie },
      })
    ).json()) as InfoJson;
    expect(again.state).toBe('playable');
    const twice = await registerAs(event, { email: 'ada@example.com' });
    const registrants = await api<{ registrants: { id: string; email: string }[] }>(
      'GET',
      `/api/events/${event.id}/registrants`,
    );
    expect(registrants.json.registrants).toHaveLength(1);
    // Typing a known address lets this browser watch, never act for that person.
    expect(twice.json.state).toBe('playable');
    expect(good.json.selfServiceUrl).toMatch(/\/me\//);
    expect(twice.json.selfServiceUrl).toBeNull();
  });

  it('refuses playlists and segments without a valid token for this event', async () => {
    const a = await createEvent();
    const b = await createEvent();
    const { json } = await registerAs(a, { email: 'grace@example.com' });
    const master = json.playback!.master;
    const u = new URL(master);
    const [, , hash, expires, , id, revision] = u.pathname.split('/');
    const variant = parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri;
    const playlistPath = `${revision}/${variant}`;
    const ok = await fetch(`${server.url}/s/${hash}/${expires}/e/${id}/${playlistPath}`);
    expect(ok.status).toBe(200);
    const segment = parseMediaPlaylist(await ok.text()).segments[0]!.uri;
    const segmentRel = `${revision}/${path.posix.dirname(variant)}/${segment}`;

    const status = async (p: string) => (await fetch(`${server.url}${p}`)).status;
    // No token at all.
    expect(await status(`/s/${'A'.repeat(22)}/${expires}/e/${id}/${segmentRel}`)).toBe(403);
    // Event A's token on event B.
    expect(await status(`/s/${hash}/${expires}/e/${digits(b.webinarId)}/${segmentRel}`)).toBe(403);
    // Altered hash, altered expiry.
    const flipped = (hash![0] === 'A' ? 'B' : 'A') + hash!.slice(1);
    expect(await status(`/s/${flipped}/${expires}/e/${id}/${segmentRel}`)).toBe(403);
    expect(await status(`/s/${hash}/${Number(expires) + 3600}/e/${id}/${segmentRel}`)).toBe(403);
    // Expired (correctly signed, in the past).
    const past = Math.floor(Date.now() / 1000) - 10;
    expect(await status(signedPath('e', id!, segmentRel, past, playbackKey(secret)))).toBe(403);
    // Signed with the server secret itself instead of the playback key: refused.
    expect(await status(signedPath('e', id!, segmentRel, Number(expires), secret))).toBe(403);
    // Valid.
    expect(await status(`/s/${hash}/${expires}/e/${id}/${segmentRel}`)).toBe(200);
    // Path traversal is refused whatever the token.
    expect(
      await rawGet(server.url, `/s/${hash}/${expires}/e/${id}/${revision}/../../../secret.key`),
    ).toBeGreaterThanOrEqual(400);
    expect(
      await rawGet(server.url, `/s/${hash}/${expires}/e/${id}/${revision}/%2e%2e/%2e%2e/onair.sqlite`),
    ).toBeGreaterThanOrEqual(400);
  });

  it('serves ranges (206), HEAD and 304 revalidation', async () => {
    const event = await createEvent({ gate: null });
    const info = (await (
      await fetch(`${server.url}/w/${digits(event.webinarId)}/info.json`)
    ).json()) as InfoJson;
    expect(info.state).toBe('playable');
    const master = info.playback!.master;
    const base = master.slice(0, master.lastIndexOf('/') + 1);
    const variant = parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri;
    const playlist = await fetch(base + variant);
    const etag = playlist.headers.get('etag')!;
    expect(playlist.headers.get('cache-control')).toContain('immutable');
    const revalidated = await fetch(base + variant, { headers: { 'if-none-match': etag } });
    expect(revalidated.status).toBe(304);

    const segmentUrl =
      base + path.posix.dirname(variant) + '/' + parseMediaPlaylist(await playlist.text()).segments[0]!.uri;
    const whole = Buffer.from(await (await fetch(segmentUrl)).arrayBuffer());
    const ranged = await fetch(segmentUrl, { headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${whole.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(whole.subarray(100, 200))).toBe(true);
    const segmentEtag = (await fetch(segmentUrl)).headers.get('etag')!;
    const segmentPath = new URL(segmentUrl).pathname;
    expect(await rawGet(server.url, segmentPath, { 'if-none-match': segmentEtag })).toBe(304);
    const head = await fetch(segmentUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(whole.length);
    expect(head.headers.get('content-type')).toBe('video/iso.segment');
  });

  it("signs the marketer's preview link: an asset id alone opens nothing", async () => {
    const asset = await server.client.getAsset(assetId);
    const player = new URL(asset.playback!.player);
    expect(player.searchParams.get('t')).toBeTruthy();
    const signed = await fetch(`${server.url}${player.pathname}/source.json${player.search}`);
    expect(signed.status).toBe(200);
    expect(((await signed.json()) as { master: string }).master).toContain('/a/');
    expect((await fetch(`${server.url}${player.pathname}/source.json`)).status).toBe(403);
    const forged = `?t=${encodeURIComponent(`play|${assetId}|9999999999.AAAA`)}`;
    expect((await fetch(`${server.url}${player.pathname}/source.json${forged}`)).status).toBe(403);
  });

  it('refuses an expired replay', async () => {
    const event = await createEvent({
      gate: null,
      replayExpiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const info = (await (
      await fetch(`${server.url}/w/${digits(event.webinarId)}/info.json`)
    ).json()) as InfoJson;
    expect(info.state).toBe('expired');
    expect(info.playback).toBeNull();
  });
});

describe("the viewer's data", () => {
  it('exports registrants with consent as CSV, records withdrawal, and erases PII everywhere', async () => {
    const event = await createEvent();
    const { json, cookie } = await registerAs(event, {
      email: 'linus@example.com',
      name: 'Linus, "the" Viewer',
      marketingConsent: true,
    });
    // Some viewing, for the analytics that must survive erasure. The grant is back-dated a minute:
    // a viewing is credited at most the wall-clock time since its grant.
    const view = backdate(json.playback!.view, 60);
    const beat = (position: number, played: number) =>
      fetch(`${server.url}/w/${digits(event.webinarId)}/heartbeat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ view, position, played }),
      });
    expect((await beat(5, 5)).status).toBe(204);
    expect((await beat(6, 1)).status).toBe(204);

    const csv = await api<unknown>('GET', `/api/events/${event.id}/registrants.csv`);
    expect(csv.status).toBe(200);
    const lines = csv.text.split('\r\n');
    expect(lines[0]).toContain('email,name,company,registered_at,access_consent_at,marketing_consent');
    expect(lines[1]).toContain('linus@example.com,"Linus, ""the"" Viewer",,');
    expect(lines[1]).toContain(',yes,');
    expect(lines[1]).toContain(',2026-11,https://example.com/privacy,6,6,');

    const analytics = await api<{ viewers: number; averageWatchSeconds: number; dropOff: number[] }>(
      'GET',
      `/api/events/${event.id}/analytics`,
    );
    expect(analytics.json.viewers).toBe(1);
    expect(analytics.json.averageWatchSeconds).toBe(6);
    expect(analytics.json.dropOff).toHaveLength(11);
    expect(analytics.json.dropOff[0]).toBe(1);

    // Self-service: download, withdraw marketing consent in one click.
    const me = json.selfServiceUrl!;
    const mine = (await (await fetch(`${me}/data.json`)).json()) as { registrant: { email: string } };
    expect(mine.registrant.email).toBe('linus@example.com');
    expect((await fetch(`${me}/data.csv`)).headers.get('content-type')).toContain('text/csv');
    expect((await fetch(`${me}/withdraw`, { method: 'POST' })).status).toBe(204);
    const afterWithdraw = await api<unknown>('GET', `/api/events/${event.id}/registrants.csv`);
    expect(afterWithdraw.text.split('\r\n')[1]).toContain(',no,');
    const db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
    try {
      const consents = await db
        .selectFrom('consents')
        .selectAll()
        .where('registrant_id', 'like', 'rg_%')
        .execute();
      const id = (await db
        .selectFrom('registrants')
        .select('id')
        .where('email', '=', 'linus@example.com')
        .executeTakeFirst())!.id;
      const mineConsents = consents.filter((c) => c.registrant_id === id);
      expect(mineConsents.map((c) => `${c.purpose}:${c.granted}:${c.source}`)).toEqual([
        'access:1:registration',
        'marketing:1:registration',
        'marketing:0:self_service',
      ]);

      // Erasure by the marketer: PII gone from the database and the export; analytics stay.
      const erase = await api<unknown>('DELETE', `/api/events/${event.id}/registrants/${id}`);
      expect(erase.status).toBe(204);
      const row = await db.selectFrom('registrants').selectAll().where('id', '=', id).executeTakeFirst();
      expect(row).toMatchObject({ email: null, name: null, company: null });
      expect(row!.anonymised_at).not.toBeNull();
      const dump = JSON.stringify(await db.selectFrom('registrants').selectAll().execute());
      expect(dump).not.toContain('linus@example.com');
      const after = await api<unknown>('GET', `/api/events/${event.id}/registrants.csv`);
      expect(after.text).not.toContain('linus');
      expect((await api<{ viewers: number }>('GET', `/api/events/${event.id}/analytics`)).json.viewers).toBe(
        1,
      );
      // The erased viewer's cookie no longer opens the gate.
      const info = (await (
        await fetch(`${server.url}/w/${digits(event.webinarId)}/info.json`, { headers: { cookie } })
      ).json()) as InfoJson;
      expect(info.state).toBe('gated');
    } finally {
      await db.destroy();
    }
  });

  it('anonymises registrants RETENTION_DAYS after the event ended (injectable clock)', async () => {
    const event = await createEvent();
    await registerAs(event, { email: 'old@example.com' });
    await api('PATCH', `/api/events/${event.id}`, { ended: true });
    const db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
    try {
      expect(await anonymiseExpiredRegistrants(db, new Date(Date.now() + 89 * 86_400_000), 90)).toBe(0);
      expect(await anonymiseExpiredRegistrants(db, new Date(Date.now() + 91 * 86_400_000), 90)).toBe(1);
      const left = await db
        .selectFrom('registrants')
        .select('email')
        .where('email', '=', 'old@example.com')
        .execute();
      expect(left).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('never writes emails or names to the logs', async () => {
    const written: string[] = [];
    const original = {
      out: process.stdout.write.bind(process.stdout),
      err: process.stderr.write.bind(process.stderr),
    };
    const capture =
      (write: typeof process.stdout.write) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        written.push(String(chunk));
        return (write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
      };
    process.stdout.write = capture(original.out);
    process.stderr.write = capture(original.err);
    try {
      const event = await createEvent({ gate: { ...GATE, fields: { name: 'required', company: 'off' } } });
      await registerAs(event, { email: 'secret.person@example.com' }); // name missing: refused
      await registerAs(event, { email: 'secret.person@example.com', name: 'Very Secret Name' });
      await registerAs(event, { email: 'secret.person@example', name: 'Very Secret Name' }); // invalid email
    } finally {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    }
    const log = written.join('');
    expect(log).not.toContain('secret.person');
    expect(log).not.toContain('Very Secret Name');
  });

  it('rate-limits registration per IP', async () => {
    const event = await createEvent();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await registerAs(event, { email: `r${i}@example.com` })).status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(25);
  });
});
