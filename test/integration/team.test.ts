import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { purgeClosedAccounts } from '../../src/services/account-purge.ts';
import { JobQueues } from '../../src/queue/catalogue.ts';
import { Redis } from 'ioredis';
import { apiCall, until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { serverDatabase, serverStorage, startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpServer, type ReceivedMail } from '../helpers/smtp.ts';

let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({ SMTP_URL: smtp.url, SIGNUP: 'open' });
});

afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

/** A browser: keeps its session cookie and CSRF token, and sends this origin's Origin header. */
class Browser {
  cookie = '';
  csrf = '';
  constructor(readonly origin = server.url) {}

  async call<T = Record<string, unknown>>(
    method: string,
    url: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<{ status: number; json: T; headers: Headers }> {
    const response = await fetch(`${server.url}${url}`, {
      method,
      headers: {
        origin: this.origin,
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.csrf ? { 'x-csrf-token': this.csrf } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...extra,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!;
    const text = await response.text();
    const json = (text ? JSON.parse(text) : {}) as T;
    const token = (json as { csrfToken?: string }).csrfToken;
    if (token) this.csrf = token;
    return { status: response.status, json, headers: response.headers };
  }
}

const mailTo = (to: string, subject: RegExp) =>
  until(`a mail to ${to}`, () =>
    smtp.mails.find((m: ReceivedMail) => m.to === to && subject.test(m.parsed.subject ?? '')),
  );

function linkToken(mail: ReceivedMail): string {
  const match = /#token=([^\s"<]+)/.exec(mail.parsed.text ?? '');
  if (!match) throw new Error('no link in the mail');
  return decodeURIComponent(match[1]!);
}

const PASSWORD = 'correct horse battery';
let owner: Browser;
let ownerId: string;

describe('sign-in and roles', () => {
  it('claims the first account with its API key, then signs in and out', async () => {
    owner = new Browser();
    const refused = await owner.call('POST', '/api/auth/signup', {
      email: 'owner@example.com',
      name: 'Olga',
      password: PASSWORD,
      apiKey: 'onair_not-a-key',
    });
    expect(refused.status).toBe(401);
    const short = await owner.call('POST', '/api/auth/signup', {
      email: 'owner@example.com',
      name: 'Olga',
      password: 'short',
      apiKey: server.apiKey,
    });
    expect(short.status).toBe(400);
    expect(JSON.stringify(short.json)).toMatch(/at least 10 characters/);

    const claimed = await owner.call<{ role: string; user: { id: string } }>('POST', '/api/auth/signup', {
      email: 'Owner@Example.com',
      name: 'Olga',
      password: PASSWORD,
      apiKey: server.apiKey,
    });
    expect(claimed.status).toBe(201);
    expect(claimed.json.role).toBe('owner');
    ownerId = claimed.json.user.id;
    expect(owner.cookie).toMatch(/^onair_session=/);
    expect(claimed.headers.get('set-cookie')).toMatch(/HttpOnly/i);

    const again = await new Browser().call('POST', '/api/auth/signup', {
      email: 'someone@example.com',
      name: 'Sam',
      password: PASSWORD,
      apiKey: server.apiKey,
    });
    expect(again.status).toBe(409);

    // The session works for the API the app uses, like the key does.
    expect((await owner.call('GET', '/api/events')).status).toBe(200);

    const wrong = await new Browser().call('POST', '/api/auth/login', {
      email: 'owner@example.com',
      password: 'nope nope nope',
    });
    const unknown = await new Browser().call('POST', '/api/auth/login', {
      email: 'nobody@example.com',
      password: PASSWORD,
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual(wrong.json);

    const other = new Browser();
    expect(
      (await other.call('POST', '/api/auth/login', { email: 'OWNER@example.com', password: PASSWORD }))
        .status,
    ).toBe(200);
    expect((await other.call('POST', '/api/auth/logout')).status).toBe(204);
    expect((await other.call('GET', '/api/auth/session')).status).toBe(401);
    // The owner's own session is untouched.
    expect((await owner.call('GET', '/api/auth/session')).status).toBe(200);
  });

  it('takes writes from a session only with its CSRF token, from this origin', async () => {
    const body = { type: 'live', title: 'CSRF probe' };
    const noToken = await owner.call('POST', '/api/events', body, { 'x-csrf-token': '' });
    expect(noToken.status).toBe(403);
    expect(noToken.json).toMatchObject({ error: { code: 'csrf' } });
    const foreign = await owner.call('POST', '/api/events', body, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    const fine = await owner.call<{ id: string }>('POST', '/api/events', body);
    expect(fine.status).toBe(201);
    expect((await owner.call('DELETE', `/api/events/${fine.json.id}`)).status).toBe(204);
  });

  it('invites a manager and a presenter; each sees what their role allows', async () => {
    const shown = await owner.call<{ id: string; live: { streamKey: string } }>('POST', '/api/events', {
      type: 'live',
      title: 'Presented',
    });
    const hidden = await owner.call<{ id: string }>('POST', '/api/events', {
      type: 'live',
      title: 'Not theirs',
    });
    expect(shown.status).toBe(201);

    for (const [email, role, eventIds] of [
      ['manager@example.com', 'manager', []],
      ['presenter@example.com', 'presenter', [shown.json.id]],
    ] as const) {
      const invited = await owner.call('POST', '/api/team/invitations', { email, role, eventIds });
      expect(invited.status).toBe(201);
    }
    // An event of no one's, or a made-up role, changes nothing.
    expect(
      (await owner.call('POST', '/api/team/invitations', { email: 'x@example.com', role: 'admin' })).status,
    ).toBe(400);
    expect(
      (
        await owner.call('POST', '/api/team/invitations', {
          email: 'x@example.com',
          role: 'presenter',
          eventIds: ['ev_AAAAAAAAAAAAAAAA'],
        })
      ).status,
    ).toBe(400);

    const manager = new Browser();
    const managerMail = await mailTo('manager@example.com', /Join/);
    expect(managerMail.parsed.text).toContain(`${server.url}/admin/invitation#token=`);
    const managerToken = linkToken(managerMail);
    const look = await manager.call('POST', '/api/auth/invitation', { token: managerToken });
    expect(look.json).toMatchObject({ email: 'manager@example.com', role: 'manager' });
    const accepted = await manager.call('POST', '/api/auth/invitation/accept', {
      token: managerToken,
      name: 'Mia',
      password: PASSWORD,
    });
    expect(accepted.status).toBe(201);
    // A link works once.
    expect(
      (
        await new Browser().call('POST', '/api/auth/invitation/accept', {
          token: managerToken,
          name: 'Eve',
          password: PASSWORD,
        })
      ).status,
    ).toBe(400);

    expect((await manager.call('GET', '/api/assets')).status).toBe(200);
    const made = await manager.call<{ id: string }>('POST', '/api/events', {
      type: 'live',
      title: 'By the manager',
    });
    expect(made.status).toBe(201);
    expect((await manager.call('GET', '/api/team')).status).toBe(403);
    expect((await manager.call('POST', '/api/keys', { label: 'mine' })).status).toBe(403);

    const presenter = new Browser();
    const presenterToken = linkToken(await mailTo('presenter@example.com', /Join/));
    expect(
      (
        await presenter.call('POST', '/api/auth/invitation/accept', {
          token: presenterToken,
          name: 'Pia',
          password: PASSWORD,
        })
      ).status,
    ).toBe(201);
    const list = await presenter.call<{ events: { id: string; live: { streamKey: string } }[] }>(
      'GET',
      '/api/events',
    );
    expect(list.json.events.map((e) => e.id)).toEqual([shown.json.id]);
    expect(list.json.events[0]!.live.streamKey).toBe(shown.json.live.streamKey);
    expect((await presenter.call('GET', `/api/events/${shown.json.id}/live`)).status).toBe(200);
    expect((await presenter.call('GET', `/api/events/${hidden.json.id}`)).status).toBe(404);
    expect(
      (await presenter.call('PATCH', `/api/events/${shown.json.id}`, { title: 'Mine now' })).status,
    ).toBe(403);
    expect((await presenter.call('POST', `/api/events/${shown.json.id}/stream-key`)).status).toBe(403);
    expect((await presenter.call('GET', `/api/events/${shown.json.id}/registrants`)).status).toBe(403);
    expect((await presenter.call('GET', '/api/assets')).status).toBe(403);
    expect((await presenter.call('GET', '/api/webhooks')).status).toBe(403);

    // The owner gives the presenter the other event too, then sees the team.
    const team = await owner.call<{ members: { id: string; email: string; role: string }[] }>(
      'GET',
      '/api/team',
    );
    const pia = team.json.members.find((m) => m.email === 'presenter@example.com')!;
    const put = await owner.call('PUT', `/api/events/${hidden.json.id}/presenters`, { userIds: [pia.id] });
    expect(put.status).toBe(200);
    expect((await presenter.call('GET', `/api/events/${hidden.json.id}`)).status).toBe(200);
    expect(team.json.members.map((m) => m.role).sort()).toEqual(['manager', 'owner', 'presenter']);
  });

  it('keeps an owner: the last one cannot be demoted or removed', async () => {
    expect((await owner.call('PATCH', `/api/team/members/${ownerId}`, { role: 'manager' })).status).toBe(409);
    expect((await owner.call('DELETE', `/api/team/members/${ownerId}`)).status).toBe(409);
  });

  it('resets a password by a mailed link that works once and ends every session', async () => {
    const user = new Browser();
    await user.call('POST', '/api/auth/login', { email: 'manager@example.com', password: PASSWORD });
    expect((await user.call('GET', '/api/auth/session')).status).toBe(200);

    const before = smtp.mails.length;
    const unknown = await new Browser().call('POST', '/api/auth/password-reset', {
      email: 'nobody@example.com',
    });
    const known = await new Browser().call('POST', '/api/auth/password-reset', {
      email: 'manager@example.com',
    });
    expect(unknown.status).toBe(202);
    expect(known.json).toEqual(unknown.json);
    const mail = await mailTo('manager@example.com', /Reset/);
    expect(mail.parsed.text).toContain(`${server.url}/admin/reset#token=`);
    const token = linkToken(mail);
    expect(smtp.mails.slice(before).some((m) => m.to === 'nobody@example.com')).toBe(false);

    const confirmed = await new Browser().call('POST', '/api/auth/password-reset/confirm', {
      token,
      password: 'a brand new password',
    });
    expect(confirmed.status).toBe(204);
    expect((await user.call('GET', '/api/auth/session')).status).toBe(401);
    expect(
      (
        await new Browser().call('POST', '/api/auth/password-reset/confirm', {
          token,
          password: 'another new password',
        })
      ).status,
    ).toBe(400);
    const forged = `${token.slice(0, -3)}abc`;
    expect(
      (
        await new Browser().call('POST', '/api/auth/password-reset/confirm', {
          token: forged,
          password: 'another new password',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await new Browser().call('POST', '/api/auth/login', {
          email: 'manager@example.com',
          password: 'a brand new password',
        })
      ).status,
    ).toBe(200);
  });

  it('makes, uses and revokes API keys', async () => {
    const made = await owner.call<{ id: string; key: string }>('POST', '/api/keys', { label: 'zapier' });
    expect(made.status).toBe(201);
    const keyed = { url: server.url, apiKey: made.json.key };
    expect((await apiCall(keyed, 'GET', '/api/events')).status).toBe(200);
    const listed = await owner.call<{ keys: { id: string; label: string }[] }>('GET', '/api/keys');
    expect(listed.json.keys.map((k) => k.label)).toContain('zapier');
    expect(JSON.stringify(listed.json)).not.toContain(made.json.key);
    expect((await owner.call('DELETE', `/api/keys/${made.json.id}`)).status).toBe(204);
    expect((await apiCall(keyed, 'GET', '/api/events')).status).toBe(401);
  });

  it('keeps accounts apart: another account reaches none of this one’s objects', async () => {
    const stranger = new Browser();
    const signed = await stranger.call('POST', '/api/auth/signup', {
      email: 'stranger@example.com',
      name: 'Stan',
      password: PASSWORD,
      accountName: 'Other Co',
    });
    expect(signed.status).toBe(201);
    const ours = await owner.call<{ events: { id: string }[] }>('GET', '/api/events');
    const eventId = ours.json.events[0]!.id;
    const team = await owner.call<{ members: { id: string }[] }>('GET', '/api/team');
    expect((await stranger.call('GET', `/api/events/${eventId}`)).status).toBe(404);
    expect((await stranger.call('PUT', `/api/events/${eventId}/presenters`, { userIds: [] })).status).toBe(
      404,
    );
    expect(
      (await stranger.call('PATCH', `/api/team/members/${team.json.members[0]!.id}`, { role: 'owner' }))
        .status,
    ).toBe(404);
    expect((await stranger.call<{ events: unknown[] }>('GET', '/api/events')).json.events).toEqual([]);
    // Its own presenters list cannot name our people.
    const theirs = await stranger.call<{ id: string }>('POST', '/api/events', {
      type: 'live',
      title: 'Theirs',
    });
    expect(
      (await stranger.call('PUT', `/api/events/${theirs.json.id}/presenters`, { userIds: [ownerId] })).status,
    ).toBe(400);
  });

  it('closes an account on the owner’s word and reopens it within the grace period', async () => {
    const closer = new Browser();
    await closer.call('POST', '/api/auth/signup', {
      email: 'closer@example.com',
      name: 'Cleo',
      password: PASSWORD,
      accountName: 'Closing Ltd',
    });
    const key = await closer.call<{ key: string }>('POST', '/api/keys', { label: 'ci' });
    expect((await closer.call('DELETE', '/api/account', { confirm: 'wrong name' })).status).toBe(400);
    const closed = await closer.call<{ closed: boolean; purgeAt: string }>('DELETE', '/api/account', {
      confirm: 'Closing Ltd',
    });
    expect(closed.json.closed).toBe(true);
    expect(Date.parse(closed.json.purgeAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect((await closer.call('GET', '/api/events')).json).toMatchObject({
      error: { code: 'account_closed' },
    });
    expect((await apiCall({ url: server.url, apiKey: key.json.key }, 'GET', '/api/events')).status).toBe(401);
    expect((await closer.call('POST', '/api/account/reopen')).status).toBe(200);
    expect((await closer.call('GET', '/api/events')).status).toBe(200);
  });

  it('limits sign-in attempts per address and client, without locking the user out', async () => {
    // onair trusts X-Forwarded-For from loopback (its own proxy): each value is a client here.
    const attacker = { 'x-forwarded-for': '203.0.113.7' };
    const attempts: number[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await new Browser().call(
        'POST',
        '/api/auth/login',
        { email: 'closer@example.com', password: `wrong ${i}` },
        attacker,
      );
      attempts.push(r.status);
    }
    expect(attempts.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(attempts.at(-1)).toBe(429);
    // The owner of the address, elsewhere, still signs in.
    const owner = await new Browser().call(
      'POST',
      '/api/auth/login',
      { email: 'closer@example.com', password: PASSWORD },
      { 'x-forwarded-for': '198.51.100.20' },
    );
    expect(owner.status).toBe(200);
  });

  it('purges a closed account after its grace period: media, people and webinars', async () => {
    const leaver = new Browser();
    await leaver.call('POST', '/api/auth/signup', {
      email: 'leaver@example.com',
      name: 'Lea',
      password: PASSWORD,
      accountName: 'Leaving Ltd',
    });
    const key = (await leaver.call<{ key: string }>('POST', '/api/keys', { label: 'upload' })).json.key;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-purge-'));
    const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 2 });
    const uploaded = await fetch(`${server.url}/api/assets?title=Leaving`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'video/mp4' },
      body: fs.readFileSync(source),
    });
    const asset = (await uploaded.json()) as { id: string };
    expect(uploaded.status).toBe(202);
    await until(
      'the asset ready',
      async () => {
        const a = await apiCall<{ status: string }>(
          { url: server.url, apiKey: key },
          'GET',
          `/api/assets/${asset.id}`,
        );
        return a.json.status === 'ready';
      },
      60_000,
    );
    const event = await leaver.call<{ id: string }>('POST', '/api/events', {
      type: 'on_demand',
      title: 'Gone',
      assetId: asset.id,
    });
    expect((await leaver.call('DELETE', '/api/account', { confirm: 'Leaving Ltd' })).status).toBe(200);

    const db = serverDatabase(server);
    const storage = await serverStorage(server);
    const redis = new Redis(server.redisUrl, { maxRetriesPerRequest: null });
    const queues = new JobQueues(redis);
    try {
      const stored = async () => (await storage.list(`assets/${asset.id}`)).length;
      expect(await stored()).toBeGreaterThan(0);
      // Within the grace period nothing goes.
      expect(await purgeClosedAccounts({ db, storage, queues }, new Date())).toBe(0);
      expect(await purgeClosedAccounts({ db, storage, queues }, new Date(Date.now() + 31 * 86_400_000))).toBe(
        1,
      );
      expect(await stored()).toBe(0);
      expect(
        await db.selectFrom('events').select('id').where('id', '=', event.json.id).executeTakeFirst(),
      ).toBeUndefined();
      expect(
        await db
          .selectFrom('users')
          .select('id')
          .where('email', '=', 'leaver@example.com')
          .executeTakeFirst(),
      ).toBeUndefined();
      expect(
        (
          await new Browser().call('POST', '/api/auth/login', {
            email: 'leaver@example.com',
            password: PASSWORD,
          })
        ).status,
      ).toBe(401);
    } finally {
      await queues.close();
      redis.disconnect();
      storage.close();
      await db.destroy();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
