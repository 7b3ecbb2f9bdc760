import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { creditViewSession } from '../../src/db/analytics.ts';
import { countBookingsBySession, countViewersBySession } from '../../src/db/analytics-series.ts';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import type { Db } from '../../src/db/database.ts';
import { bookSession } from '../../src/db/registrants.ts';
import { signValue, unsignValue } from '../../src/origin/tokens.ts';
import type { AnalyticsSeries } from '../../src/services/analytics-series.ts';
import { apiCall } from '../helpers/api.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The registrants search (`q`) and the analytics series, on whichever database the suite runs
 * (SQLite, or PostgreSQL with ONAIR_TEST_DATABASE=postgres): viewers register and watch through
 * the viewer routes, as a browser does. The recording is a row marked ready (no encode needed:
 * nothing here plays media).
 */
let server: TestServer;
let db: Db;
let event: { id: string; webinarId: string };
const DURATION = 300;
const ids = new Map<string, string>();
const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const TODAY = day(Date.now());

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'optional' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: '2026-11',
};

const PEOPLE = [
  { email: 'ada@example.com', name: 'Ada Lovelace', company: 'Analytical Engines' },
  { email: 'bob@example.com', name: 'Bob', company: 'ACME_Corp' },
  { email: 'carol@example.com', name: 'Carol', company: 'ACMExCorp' },
  { email: 'dave@example.com', name: 'Dave', company: '50% Off Ltd' },
  { email: 'eve@example.com', name: 'Eve', company: '500 Off Ltd' },
  { email: 'frank@example.org', name: 'Frank \\ Backslash', company: null },
];

async function register(person: (typeof PEOPLE)[number]): Promise<{ view: string; cookie: string }> {
  const response = await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...person, company: person.company ?? '', noticeVersion: '2026-11' }),
  });
  const body = (await response.json()) as { playback: { view: string } | null };
  expect(response.status).toBe(201);
  return { view: body.playback!.view, cookie: response.headers.get('set-cookie')!.split(';')[0]! };
}

/** A viewing grant re-signed as if issued `seconds` earlier (a viewing earns at most wall-clock time). */
function backdate(view: string, seconds: number): string {
  const fields = unsignValue(view, server.secret)!.split('|');
  fields[7] = String(Number(fields[7]) - seconds);
  return signValue(fields.join('|'), server.secret);
}

async function watch(grant: { view: string; cookie: string }, position: number): Promise<void> {
  const view = backdate(grant.view, 600);
  const response = await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/heartbeat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: grant.cookie },
    body: JSON.stringify({ view, position, played: 10 }),
  });
  expect(response.status).toBe(204);
}

interface Page {
  registrants: { id: string; email: string | null; anonymisedAt: string | null; secondsWatched: number }[];
  next: number | null;
}

const search = (q: string, extra = '') =>
  apiCall<Page>(server, 'GET', `/api/events/${event.id}/registrants?q=${encodeURIComponent(q)}${extra}`);
const emails = (page: Page) => page.registrants.map((r) => r.email);

beforeAll(async () => {
  server = await startTestServer({ REGISTER_RATE_PER_MINUTE: '100' });
  db = serverDatabase(server);
  const account = await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
  const asset = await insertAsset(db, {
    id: 'as_searchtest0000001',
    accountId: account.id,
    title: 'talk',
    sourceKey: 'sources/as_searchtest0000001/source',
    sourceBytes: 1,
    sourceName: undefined,
  });
  await updateAsset(db, asset.id, { status: 'ready', revision: 'rev_1', duration_seconds: DURATION });
  const created = await apiCall<{ id: string; webinarId: string }>(server, 'POST', '/api/events', {
    title: 'Search and series',
    type: 'on_demand',
    assetId: asset.id,
    gate: GATE,
  });
  expect(created.status).toBe(201);
  event = created.json;
  const grants = new Map<string, { view: string; cookie: string }>();
  for (const person of PEOPLE) grants.set(person.email, await register(person));
  const listed = await apiCall<Page>(server, 'GET', `/api/events/${event.id}/registrants`);
  for (const r of listed.json.registrants) ids.set(r.email!, r.id);
  // How far each got into the 300 s recording: 0:30, 2:10, the end (within 2 s), and 3:20 for
  // Dave, who then restricts processing and so leaves the analytics.
  await watch(grants.get('ada@example.com')!, 30);
  await watch(grants.get('bob@example.com')!, 130);
  await watch(grants.get('carol@example.com')!, 299);
  await watch(grants.get('dave@example.com')!, 200);
  const restricted = await apiCall(
    server,
    'PATCH',
    `/api/events/${event.id}/registrants/${ids.get('dave@example.com')}`,
    { restricted: true },
  );
  expect(restricted.status).toBe(200);
  // Fixed times, so that no run near midnight (UTC) splits a day: everyone registered today at
  // noon, a second apart in the order above, but Ada two days before; they watched at noon.
  for (const [i, person] of PEOPLE.entries()) {
    const at = Date.parse(`${TODAY}T12:00:00Z`) + i * 1000 - (i === 0 ? 2 * DAY_MS : 0);
    await db
      .updateTable('registrants')
      .set({ created_at: new Date(at).toISOString() })
      .where('id', '=', ids.get(person.email)!)
      .execute();
  }
  await db
    .updateTable('view_sessions')
    .set({ started_at: `${TODAY}T12:00:00.000Z` })
    .where('event_id', '=', event.id)
    .execute();
});

afterAll(async () => {
  await db?.destroy();
  await server?.close();
});

describe('registrants search (q)', () => {
  it('finds by substring of email, name or company, in any case', async () => {
    expect(emails((await search('LOVELACE')).json)).toEqual(['ada@example.com']);
    expect(emails((await search('velac')).json)).toEqual(['ada@example.com']);
    expect(emails((await search('ANALYTICAL eng')).json)).toEqual(['ada@example.com']);
    expect(emails((await search('CAROL@EXAMPLE')).json)).toEqual(['carol@example.com']);
    expect(emails((await search('example.org')).json)).toEqual(['frank@example.org']);
    expect(emails((await search('nobody')).json)).toEqual([]);
    // An empty or blank q is no filter.
    expect((await search('  ')).json.registrants).toHaveLength(PEOPLE.length);
  });

  it('treats %, _ and \\ as plain characters', async () => {
    expect(emails((await search('acme_corp')).json)).toEqual(['bob@example.com']);
    expect(emails((await search('50%')).json)).toEqual(['dave@example.com']);
    expect(emails((await search('%')).json)).toEqual(['dave@example.com']);
    expect(emails((await search('_')).json)).toEqual(['bob@example.com']);
    expect(emails((await search('\\ back')).json)).toEqual(['frank@example.org']);
  });

  it('pages the matches, in order of registration', async () => {
    const first = await search('@example.com', '&limit=2');
    expect(first.status).toBe(200);
    expect(first.json.registrants).toHaveLength(2);
    expect(first.json.next).toBe(2);
    const rest = await search('@example.com', '&limit=2&offset=2');
    const last = await search('@example.com', '&limit=2&offset=4');
    expect(last.json.next).toBeNull();
    const all = [...emails(first.json), ...emails(rest.json), ...emails(last.json)];
    expect(all).toEqual([
      'ada@example.com',
      'bob@example.com',
      'carol@example.com',
      'dave@example.com',
      'eve@example.com',
    ]);
    // Watch stats come with the page.
    expect(first.json.registrants[1]!.secondsWatched).toBe(10);
  });

  it('refuses a q longer than 100 characters', async () => {
    const long = await search('x'.repeat(101));
    expect(long.status).toBe(400);
    expect((long.json as unknown as { error: { message: string } }).error.message).toBe(
      'Invalid query: q must be at most 100 characters',
    );
    expect((await search('x'.repeat(100))).status).toBe(200);
  });

  it('an erased registrant is found no more, and shows as erased', async () => {
    const erase = await apiCall(
      server,
      'DELETE',
      `/api/events/${event.id}/registrants/${ids.get('eve@example.com')}`,
    );
    expect(erase.status).toBe(204);
    expect(emails((await search('eve@')).json)).toEqual([]);
    const all = await apiCall<Page>(server, 'GET', `/api/events/${event.id}/registrants`);
    const eve = all.json.registrants.find((r) => r.id === ids.get('eve@example.com'))!;
    expect(eve.email).toBeNull();
    expect(eve.anonymisedAt).not.toBeNull();
  });
});

describe('analytics series', () => {
  it('says what the data says: registrations and viewers per day, drop-off per minute', async () => {
    const { status, json } = await apiCall<AnalyticsSeries>(
      server,
      'GET',
      `/api/events/${event.id}/analytics/series`,
    );
    expect(status).toBe(200);
    const today = Date.parse(`${TODAY}T12:00:00Z`);
    // Dave restricted processing: out of every series.
    expect(json.registrations).toEqual({
      by: 'day',
      points: [
        { day: day(today - 2 * DAY_MS), registrations: 1 },
        { day: day(today - DAY_MS), registrations: 0 },
        { day: TODAY, registrations: PEOPLE.length - 2 },
      ],
    });
    expect(json.attendance).toEqual({ by: 'day', points: [{ day: TODAY, viewers: 3 }] });
    expect(json.dropOff.durationSeconds).toBe(DURATION);
    expect(json.dropOff.viewers).toBe(3);
    expect(json.dropOff.points).toEqual([
      { second: 0, viewers: 3, share: 1 },
      { second: 60, viewers: 2, share: 0.667 },
      { second: 120, viewers: 2, share: 0.667 },
      { second: 180, viewers: 1, share: 0.333 },
      { second: 240, viewers: 1, share: 0.333 },
      { second: 300, viewers: 1, share: 0.333 },
    ]);
    // The same viewers as the headline figures count.
    const headline = await apiCall<{ viewers: number }>(server, 'GET', `/api/events/${event.id}/analytics`);
    expect(headline.json.viewers).toBe(3);
  });

  it('counts an automated webinar per session: bookings and distinct viewers', async () => {
    const sessions = ['2026-11-24T09:00:00.000Z', '2026-11-25T09:00:00.000Z'];
    await bookSession(db, ids.get('ada@example.com')!, sessions[0]!);
    await bookSession(db, ids.get('bob@example.com')!, sessions[1]!);
    await bookSession(db, ids.get('carol@example.com')!, sessions[1]!);
    const credit = (id: string, registrantId: string | null, sessionAt: string) =>
      creditViewSession(db, {
        sessionId: id,
        eventId: event.id,
        registrantId,
        sessionAt,
        startedAt: sessionAt,
        at: sessionAt,
        played: 5,
        capSeconds: 60,
        position: 5,
      });
    // Bob twice in one session (two tabs): one viewer. One anonymous viewing.
    await credit('vs_b1', ids.get('bob@example.com')!, sessions[1]!);
    await credit('vs_b2', ids.get('bob@example.com')!, sessions[1]!);
    await credit('vs_anon', null, sessions[1]!);
    expect(await countBookingsBySession(db, event.id, 10)).toEqual([
      { sessionAt: sessions[1], n: 2 },
      { sessionAt: sessions[0], n: 1 },
    ]);
    expect(await countViewersBySession(db, event.id, 10)).toEqual([{ sessionAt: sessions[1], n: 2 }]);
    // Bounded: the latest sessions only.
    expect(await countBookingsBySession(db, event.id, 1)).toEqual([{ sessionAt: sessions[1], n: 2 }]);
  });
});
