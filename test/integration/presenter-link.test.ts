import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBound } from '../../src/automated/links.ts';
import { setAccountClosed } from '../../src/db/accounts.ts';
import type { Db } from '../../src/db/database.ts';
import { findEvent, insertEvent, OPEN_GATE } from '../../src/db/events.ts';
import { assignPresenter, createSession, insertUser } from '../../src/db/users.ts';
import { signPresenterToken, streamKeyPrint } from '../../src/live/presenter-links.ts';
import { apiCall } from '../helpers/api.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Presenter links: an owner or manager makes a signed link; a guest presenter's page reads the
 * event and its stream key with it (`/api/present/:id`), and nothing else does.
 */
let server: TestServer;
let db: Db;
let accountId: string;
/** Everything the server wrote to stdout and stderr while this file ran. */
const written: string[] = [];
/** Every token made here: none may appear in the server's output. */
const tokens: string[] = [];
const original = {
  out: process.stdout.write.bind(process.stdout),
  err: process.stderr.write.bind(process.stderr),
};

beforeAll(async () => {
  const capture =
    (write: typeof process.stdout.write) =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      written.push(String(chunk));
      return (write as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = capture(original.out);
  process.stderr.write = capture(original.err);
  server = await startTestServer({ LOG_LEVEL: 'debug' });
  db = serverDatabase(server);
  accountId = (await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow()).id;
}, 60_000);

afterAll(async () => {
  process.stdout.write = original.out;
  process.stderr.write = original.err;
  await db?.destroy();
  await server?.close();
});

interface LiveEvent {
  id: string;
  title: string;
  webinarId: string;
  pageUrl: string;
  live: { status: string; whipUrl: string | null; streamKey: string; streamKeyDisabled: boolean };
}

interface PresenterLink {
  url: string;
  expiresAt: string;
}

async function createLiveEvent(title: string): Promise<LiveEvent> {
  const { status, json } = await apiCall<LiveEvent>(server, 'POST', '/api/events', { title, type: 'live' });
  expect(status).toBe(201);
  return json;
}

async function makeLink(eventId: string, body: unknown = {}): Promise<string> {
  const made = await apiCall<PresenterLink>(server, 'POST', `/api/events/${eventId}/presenter-link`, body);
  expect(made.status).toBe(201);
  const token = decodeURIComponent(made.json.url.split('#link=')[1] ?? '');
  tokens.push(token);
  return token;
}

/** A GET as the presenter page makes it with a link: the token as bearer, no cookie. */
async function present<T = Record<string, unknown>>(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; json: T; headers: Headers }> {
  const response = await fetch(`${server.url}${path}`, { headers });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as T, headers: response.headers };
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The one refusal every bad link gets: it says nothing about the event or the account. */
const REFUSED = {
  error: {
    code: 'invalid_link',
    message: 'This presenter link is not valid or has expired: ask the organiser for a new one.',
  },
};

async function expectRefused(eventId: string, headers: Record<string, string>): Promise<void> {
  for (const path of [`/api/present/${eventId}`, `/api/present/${eventId}/live`]) {
    const answer = await present(path, headers);
    expect([path, answer.status]).toEqual([path, 401]);
    expect(answer.json).toEqual(REFUSED);
  }
}

/** A signed-in user of the account with `role`: the session cookie and its CSRF token. */
async function signedIn(role: 'owner' | 'manager' | 'presenter', eventIds: string[] = []) {
  const user = await insertUser(db, {
    accountId,
    email: `${role}-${Date.now()}@example.com`,
    name: role,
    role,
    passwordHash: 'not a hash: this user never signs in with a password',
  });
  await assignPresenter(db, accountId, user.id, eventIds);
  const cookie = `onair_session=${await createSession(db, user.id)}`;
  const session = await present<{ csrfToken: string }>('/api/auth/session', { cookie });
  expect(session.status).toBe(200);
  return { cookie, origin: server.url, 'x-csrf-token': session.json.csrfToken };
}

describe('presenter links', () => {
  it('a link made for a live event opens it, with its stream key, for a few days', async () => {
    const event = await createLiveEvent('Guest keynote');
    const made = await apiCall<PresenterLink>(server, 'POST', `/api/events/${event.id}/presenter-link`, {
      days: 3,
    });
    expect(made.status).toBe(201);
    expect(made.json.url.startsWith(`${server.url}/present/${event.id}#link=`)).toBe(true);
    const expiresIn = Date.parse(made.json.expiresAt) - Date.now();
    expect(Math.abs(expiresIn - 3 * 86_400_000)).toBeLessThan(60_000);
    const token = decodeURIComponent(made.json.url.split('#link=')[1]!);
    tokens.push(token);
    expect(token.length).toBeLessThanOrEqual(512);

    const read = await present<Record<string, unknown>>(`/api/present/${event.id}`, bearer(token));
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('no-store');
    // The minimal shape the page needs, with the URLs of the app's own API.
    expect(read.json).toEqual({
      id: event.id,
      title: 'Guest keynote',
      webinarId: event.webinarId,
      pageUrl: event.pageUrl,
      type: 'live',
      live: {
        status: 'idle',
        whipUrl: event.live.whipUrl,
        streamKey: event.live.streamKey,
        streamKeyDisabled: false,
      },
    });

    const live = await present(`/api/present/${event.id}/live`, bearer(token));
    expect(live.status).toBe(200);
    expect(live.json).toEqual({ status: 'idle', viewersNow: 0, protocol: null });

    // The default is a week.
    const week = await apiCall<PresenterLink>(server, 'POST', `/api/events/${event.id}/presenter-link`);
    expect(week.status).toBe(201);
    tokens.push(decodeURIComponent(week.json.url.split('#link=')[1]!));
    expect(Math.abs(Date.parse(week.json.expiresAt) - Date.now() - 7 * 86_400_000)).toBeLessThan(60_000);
  });

  it('refuses bad lifetimes, events that are not live and events of no one', async () => {
    const event = await createLiveEvent('Bounds');
    for (const body of [{ days: 0 }, { days: 31 }, { days: 1.5 }, { days: '7' }, { days: 7, extra: 1 }]) {
      const answer = await apiCall(server, 'POST', `/api/events/${event.id}/presenter-link`, body);
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), 400]);
    }
    const onDemand = await insertEvent(db, {
      accountId,
      title: 'A recording',
      description: '',
      type: 'on_demand',
      assetId: null,
      startsAt: new Date().toISOString(),
      gate: OPEN_GATE,
      replayExpiresAt: null,
    });
    expect((await apiCall(server, 'POST', `/api/events/${onDemand.id}/presenter-link`)).status).toBe(400);
    expect((await apiCall(server, 'POST', '/api/events/ev_AAAAAAAAAAAAAAAA/presenter-link')).status).toBe(
      404,
    );
    // A disabled key makes no link (it would not work).
    await apiCall(server, 'PATCH', `/api/events/${event.id}`, { streamKeyDisabled: true });
    expect((await apiCall(server, 'POST', `/api/events/${event.id}/presenter-link`)).status).toBe(400);
  });

  it('refuses a missing, tampered, foreign, expired or oversized token with one answer', async () => {
    const event = await createLiveEvent('Refusals');
    const other = await createLiveEvent('Another event');
    const token = await makeLink(event.id);
    const otherToken = await makeLink(other.id);
    const row = (await findEvent(db, event.id))!;
    const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

    await expectRefused(event.id, {});
    await expectRefused(event.id, { authorization: token });
    await expectRefused(event.id, { authorization: `Basic ${token}` });
    // The account's API key is not a link.
    await expectRefused(event.id, bearer(server.apiKey));
    // One character of the signature changed, or of the value.
    const at = token.length - 10;
    const flipped = token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
    await expectRefused(event.id, bearer(flipped));
    await expectRefused(event.id, bearer(token.replace(event.id, other.id)));
    // Another event's link, on this event's path.
    await expectRefused(event.id, bearer(otherToken));
    // Expired a second ago; signed for another account; signed for another purpose.
    const expired = signPresenterToken({ ...row, stream_key: row.stream_key! }, server.secret, inSeconds(-1));
    tokens.push(expired);
    await expectRefused(event.id, bearer(expired));
    const foreign = signPresenterToken(
      { ...row, account_id: 'acc_AAAAAAAAAAAAAAAA', stream_key: row.stream_key! },
      server.secret,
      inSeconds(3600),
    );
    await expectRefused(event.id, bearer(foreign));
    const viewerValue = signBound(
      'me',
      row,
      [streamKeyPrint(row.stream_key!)],
      server.secret,
      inSeconds(3600),
    );
    await expectRefused(event.id, bearer(viewerValue));
    // Signed with another secret.
    await expectRefused(
      event.id,
      bearer(signPresenterToken({ ...row, stream_key: row.stream_key! }, 'x'.repeat(32), inSeconds(3600))),
    );
    // Bounded: a token longer than 512 characters is not read.
    await expectRefused(event.id, bearer(`${token}${'a'.repeat(600)}`));
    // An unknown event answers as a bad token does: a link tells nothing about what exists.
    await expectRefused('ev_AAAAAAAAAAAAAAAA', bearer(token));
    await expectRefused('nonsense', bearer(token));

    // Never from a query parameter, and a session cookie alone opens nothing here.
    const query = await present(`/api/present/${event.id}?token=${encodeURIComponent(token)}`, {});
    expect(query.status).toBe(401);
    const owner = await signedIn('owner');
    await expectRefused(event.id, { cookie: owner.cookie });
    // The link still works: nothing above changed it.
    expect((await present(`/api/present/${event.id}`, bearer(token))).status).toBe(200);
  });

  it('a new stream key, a disabled key, a deleted event or a closed account void the link', async () => {
    const event = await createLiveEvent('Rotation');
    const token = await makeLink(event.id);
    expect((await present(`/api/present/${event.id}`, bearer(token))).status).toBe(200);
    const rotated = await apiCall<LiveEvent>(server, 'POST', `/api/events/${event.id}/stream-key`);
    expect(rotated.status).toBe(200);
    await expectRefused(event.id, bearer(token));
    // A link made after the rotation carries the new key.
    const fresh = await makeLink(event.id);
    const read = await present<LiveEvent>(`/api/present/${event.id}`, bearer(fresh));
    expect(read.json.live.streamKey).toBe(rotated.json.live.streamKey);

    // Refused while the key is disabled (a new key is what ends links for good).
    await apiCall(server, 'PATCH', `/api/events/${event.id}`, { streamKeyDisabled: true });
    await expectRefused(event.id, bearer(fresh));
    await apiCall(server, 'PATCH', `/api/events/${event.id}`, { streamKeyDisabled: false });
    expect((await present(`/api/present/${event.id}`, bearer(fresh))).status).toBe(200);

    // An ended event still answers: the page says it has ended.
    expect((await apiCall(server, 'POST', `/api/events/${event.id}/end`)).status).toBe(200);
    expect((await present(`/api/present/${event.id}`, bearer(fresh))).status).toBe(200);

    await setAccountClosed(db, accountId, true);
    try {
      await expectRefused(event.id, bearer(fresh));
    } finally {
      await setAccountClosed(db, accountId, false);
    }
    expect((await present(`/api/present/${event.id}`, bearer(fresh))).status).toBe(200);

    expect((await apiCall(server, 'DELETE', `/api/events/${event.id}`)).status).toBe(204);
    await expectRefused(event.id, bearer(fresh));
  });

  it('only owners, managers and API keys make links', async () => {
    const event = await createLiveEvent('Roles');
    const path = `/api/events/${event.id}/presenter-link`;
    const post = (headers: Record<string, string>) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    expect((await post({})).status).toBe(401);
    const presenter = await signedIn('presenter', [event.id]);
    // The presenter reaches the event (they present it), but makes no link.
    expect((await present(`/api/events/${event.id}`, { cookie: presenter.cookie })).status).toBe(200);
    expect((await post(presenter)).status).toBe(403);
    const manager = await signedIn('manager');
    const made = await post(manager);
    expect(made.status).toBe(201);
    tokens.push(decodeURIComponent(((await made.json()) as PresenterLink).url.split('#link=')[1]!));
    // A session's write still needs its CSRF token.
    expect((await post({ cookie: manager.cookie, origin: server.url })).status).toBe(403);
  });

  it('never writes a token to the server’s output', () => {
    expect(tokens.length).toBeGreaterThan(5);
    const log = written.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const token of tokens) {
      expect(log).not.toContain(token);
      expect(log).not.toContain(encodeURIComponent(token));
      // Nor its signature alone.
      expect(log).not.toContain(token.slice(token.lastIndexOf('.') + 1));
    }
  });
});
