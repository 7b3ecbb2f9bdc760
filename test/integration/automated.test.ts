import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { mailJobId } from '../../src/automated/reminders.ts';
import { sessionScopeId } from '../../src/automated/sessions.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { makeSource } from '../helpers/media.ts';
import { openDatabase } from '../../src/db/database.ts';
import { anonymiseExpiredRegistrants } from '../../src/services/retention.ts';
import { apiCall, until } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpServer, type ReceivedMail } from '../helpers/smtp.ts';

const SECRET = 'test-secret-for-automated-webinars-0123456789';
let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let work: string;
let asset: { id: string; revision: string; duration: number };

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-auto-'));
  smtp = await startSmtpServer();
  server = await startTestServer({
    ONAIR_SECRET: SECRET,
    SMTP_URL: smtp.url,
    MAIL_FROM: 'Webinars <webinars@example.com>',
    // Reminders 24 h (already past for a session this close), 8 s and 4 s before the start.
    REMINDER_OFFSETS: '24h,8s,4s',
    MISSED_MAIL_DELAY: '1s',
  });
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 90 });
  const ready = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(ready.status).toBe('ready');
  const revision = /\/(rev_[A-Za-z0-9]+)\//.exec(ready.playback!.master)![1]!;
  asset = { id: ready.id, revision, duration: ready.durationSeconds! };
}, 180_000);

afterAll(async () => {
  await server?.close();
  await smtp?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function api<T = Record<string, unknown>>(method: string, url: string, body?: unknown) {
  return apiCall<T>(server, method, url, body);
}

interface AutomatedEvent {
  id: string;
  webinarId: string;
}

async function createAutomated(
  schedule: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<AutomatedEvent> {
  const { status, json } = await api<AutomatedEvent & { error?: unknown }>('POST', '/api/events', {
    title: 'Growth playbook',
    type: 'automated',
    assetId: asset.id,
    schedule: { timezone: 'Europe/Rome', ...schedule },
    interactions: {
      ctas: [
        {
          id: 'offer',
          headline: 'Book a demo',
          buttonLabel: 'Book',
          url: 'https://example.com/demo',
          start: 20,
          end: 35,
        },
      ],
      polls: [{ id: 'size', question: 'Team size?', options: ['1-10', '11-50', '50+'], start: 5, end: 30 }],
      chat: [{ id: 'hello', at: 2, author: 'Host', text: 'Welcome everyone' }],
    },
    ...extra,
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return json;
}

/** A session-scoped URL, signed like the API signs them. */
function sessionUrl(event: AutomatedEvent, startMs: number, file: string): string {
  const urls = new PlaybackUrls(playbackKey(SECRET), 3600);
  return urls.url(
    server.url,
    'e',
    sessionScopeId(event.webinarId.replace(/-/g, ''), startMs),
    asset.revision,
    file,
    urls.expiresAt(),
  );
}

class Viewer {
  cookie = '';
  constructor(readonly event: AutomatedEvent) {}
  get base() {
    return `${server.url}/w/${this.event.webinarId.replace(/-/g, '')}`;
  }
  async call<T = Record<string, unknown>>(method: string, p: string, body?: unknown) {
    const response = await fetch(`${this.base}${p}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const set = response.headers.getSetCookie();
    if (set.length > 0)
      this.cookie = [this.cookie, ...set.map((c) => c.split(';')[0])].filter(Boolean).join('; ');
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as T };
  }
}

interface Info {
  state: string;
  startsAt: string;
  session: { startsAt: string; state: string } | null;
  sessions: { startsAt: string; state: string }[];
  playback: { master: string; live: boolean; complete: boolean } | null;
}

describe('automated webinars', () => {
  it('airs a recording as if live from the clock: nothing before the start, the live window at start + 61 s, the replay after', async () => {
    const now = Date.now();
    const liveStart = Math.floor((now - 61_000) / 1000) * 1000;
    const event = await createAutomated({ kind: 'once', startsAt: new Date(liveStart).toISOString() });

    // Live session, 61 s in: the window ends with the segment playing now, PDT of its first segment.
    const viewer = new Viewer(event);
    const info = (await viewer.call<Info>('GET', '/info.json')).json;
    expect(info.state).toBe('choose');
    expect(info.sessions[0]).toMatchObject({ startsAt: new Date(liveStart).toISOString(), state: 'live' });
    const joined = (await viewer.call<Info>('POST', '/session', { sessionAt: info.sessions[0]!.startsAt }))
      .json;
    expect(joined.state).toBe('playable');
    expect(joined.playback).toMatchObject({ live: true, complete: false });
    const master = parseMasterPlaylist(await (await fetch(joined.playback!.master)).text());
    const rendition = new URL(master.variants[0]!.uri, joined.playback!.master).toString();
    const askedAt = (Date.now() - liveStart) / 1000;
    const response = await fetch(rendition);
    expect(response.headers.get('cache-control')).toBe('public, max-age=1');
    const text = await response.text();
    const playlist = parseMediaPlaylist(text);
    const elapsed = (Date.now() - liveStart) / 1000;
    const listedEnd = playlist.segments.reduce((s, x) => s + x.duration, 0);
    const listedStart = playlist.mediaSequence * 2; // 2 s segments
    expect(listedEnd + listedStart).toBeGreaterThan(askedAt - 0.5);
    expect(listedEnd + listedStart).toBeLessThan(elapsed + 2.5);
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(text).toContain(
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(liveStart + listedStart * 1000).toISOString()}`,
    );
    // 2 s segments: the one playing when the playlist was asked for is the last listed (61 s in,
    // seg_00030 -- later if this machine is slow), and the 120 s window still reaches the start.
    expect(playlist.mediaSequence).toBe(0);
    const last = Number(/^seg_(\d{5})\.m4s$/.exec(playlist.segments.at(-1)!.uri)![1]);
    expect(last).toBeGreaterThanOrEqual(Math.floor(askedAt / 2));
    expect(last).toBeLessThanOrEqual(Math.floor(elapsed / 2));
    // A segment in the session's future is refused; the current one is served.
    const base = rendition.slice(0, rendition.lastIndexOf('/') + 1);
    const future = await fetch(`${base}seg_00040.m4s`);
    expect(future.status).toBe(403);
    expect(await future.text()).toBe('not yet');
    expect((await fetch(`${base}${playlist.segments.at(-1)!.uri}`)).status).toBe(200);

    // Before its start: the playlist is not there yet.
    const later = Date.now() + 3600_000;
    const upcoming = await fetch(
      sessionUrl(event, Math.floor(later / 1000) * 1000, `${master.variants[0]!.uri}`),
    );
    expect(upcoming.status).toBe(404);

    // After the end (with the default 7-day replay): everything, as VOD, with ENDLIST.
    const past = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const replay = await (await fetch(sessionUrl(event, past, master.variants[0]!.uri))).text();
    expect(replay).toContain('#EXT-X-ENDLIST');
    expect(replay).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(parseMediaPlaylist(replay).segments).toHaveLength(45);
    expect(replay).toContain('CLASS="com.onair.cta"');
    expect(replay).toContain('CLASS="com.onair.chat"');
  });

  it('lists sessions of a schedule, with registrants per session', async () => {
    const event = await createAutomated({
      kind: 'recurring',
      start: '2026-12-01T10:00',
      rrule: 'FREQ=WEEKLY;BYDAY=TU,TH',
    });
    const { status, json } = await api<{
      sessions: { startsAt: string; state: string; registrants: number }[];
    }>('GET', `/api/events/${event.id}/sessions?from=2026-12-01T00:00:00Z&to=2026-12-15T00:00:00Z`);
    expect(status).toBe(200);
    expect(json.sessions.map((s) => s.startsAt)).toEqual([
      '2026-12-01T09:00:00.000Z',
      '2026-12-03T09:00:00.000Z',
      '2026-12-08T09:00:00.000Z',
      '2026-12-10T09:00:00.000Z',
    ]);
    const bad = await api('POST', '/api/events', {
      title: 'x',
      type: 'automated',
      assetId: asset.id,
      schedule: {
        kind: 'recurring',
        timezone: 'Europe/Rome',
        start: '2026-12-01T10:00',
        rrule: 'FREQ=HOURLY',
      },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/FREQ=HOURLY is not supported/);
  });

  it('registration for a session: confirmation with an .ics, reminders on time, none twice across a worker restart, one-click unsubscribe', async () => {
    const start = Math.floor((Date.now() + 16_000) / 1000) * 1000;
    const event = await createAutomated(
      { kind: 'once', startsAt: new Date(start).toISOString(), replayDays: 3 },
      {
        gate: {
          emailRequired: true,
          privacyNoticeUrl: 'https://example.com/privacy',
          privacyNoticeVersion: '1',
        },
      },
    );
    const viewer = new Viewer(event);
    const gated = (await viewer.call<Info>('GET', '/info.json')).json;
    expect(gated.state).toBe('gated');
    expect(gated.sessions.map((s) => s.startsAt)).toEqual([new Date(start).toISOString()]);
    const registered = await viewer.call<Info>('POST', '/register', {
      email: 'ada@example.com',
      noticeVersion: '1',
      sessionAt: new Date(start).toISOString(),
    });
    expect(registered.status).toBe(201);
    expect(registered.json.state).toBe('waiting');

    const mine = () => smtp.mails.filter((m: ReceivedMail) => m.to === 'ada@example.com');
    const confirmation = await until('the confirmation', () =>
      mine().find((m) => m.parsed.subject?.startsWith("You're registered")),
    );
    // mailparser files List-* headers under "list".
    const list = confirmation.parsed.headers.get('list') as {
      unsubscribe: { url: string };
      'unsubscribe-post': { name: string };
    };
    const unsubscribe = list.unsubscribe.url;
    expect(unsubscribe).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/u\/.+/);
    expect(list['unsubscribe-post'].name).toBe('List-Unsubscribe=One-Click');
    const ics = confirmation.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'));
    expect(ics).toBeDefined();
    const calendar = new ICAL.Component(ICAL.parse(ics!.content.toString('utf8')) as unknown[]);
    // In the event's zone (Europe/Rome), with its VTIMEZONE.
    ICAL.TimezoneService.register(new ICAL.Timezone(calendar.getFirstSubcomponent('vtimezone')!));
    const vevent = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
    expect(vevent.startDate.zone?.tzid).toBe('Europe/Rome');
    expect(vevent.startDate.toJSDate().getTime()).toBe(start);
    const join = /(http:\/\/\S+\/w\/\d{9}\?k=\S+)/.exec(confirmation.parsed.text ?? '')![1]!;

    // Kill the worker while reminders are pending: the restarted one must not send any twice.
    await new Promise((r) => setTimeout(r, 2000));
    for (const pid of server.workerPids()) process.kill(pid, 'SIGKILL');
    await until(
      'the 8 s reminder',
      () => mine().find((m) => m.parsed.subject?.startsWith('Starting in 8 seconds')),
      30_000,
    );
    await until(
      'the 4 s reminder',
      () => mine().find((m) => m.parsed.subject?.startsWith('Starting in 4 seconds')),
      30_000,
    );
    const remindedAt = mine().find((m) => m.parsed.subject?.startsWith('Starting in 4 seconds'))!.at;
    expect(Math.abs(remindedAt - (start - 4000))).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 2000));
    const subjects = mine().map((m) => m.parsed.subject);
    expect(subjects.filter((s) => s?.startsWith("You're registered"))).toHaveLength(1);
    expect(subjects.filter((s) => s?.startsWith('Starting in 8 seconds'))).toHaveLength(1);
    expect(subjects.filter((s) => s?.startsWith('Starting in 4 seconds'))).toHaveLength(1);
    expect(subjects.filter((s) => s?.includes('24 hours'))).toHaveLength(0); // its time had passed

    // The personal link signs another browser in; once the session has started it plays.
    await new Promise((r) => setTimeout(r, Math.max(0, start + 500 - Date.now())));
    const phone = new Viewer(event);
    const viaLink = await fetch(join.replace(/\/w\/(\d+)\?k=/, '/w/$1/info.json?k='));
    expect(viaLink.status).toBe(200);
    phone.cookie = viaLink.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const live = (await phone.call<Info>('GET', '/info.json')).json;
    expect(live.state).toBe('playable');

    // Polls: one vote per registrant; CTA clicks counted.
    expect((await phone.call('POST', '/polls/size/vote', { option: 1 })).status).toBe(201);
    expect((await viewer.call('POST', '/polls/size/vote', { option: 2 })).status).toBe(409);
    expect((await phone.call('POST', '/cta/offer/click')).status).toBe(204);
    const analytics = await api<{ ctas: { clicks: number }[]; polls: { votes: number[] }[] }>(
      'GET',
      `/api/events/${event.id}/analytics`,
    );
    expect(analytics.json.ctas[0]!.clicks).toBe(1);
    expect(analytics.json.polls[0]!.votes).toEqual([0, 1, 0]);

    // One-click unsubscribe (RFC 8058): a POST, no confirmation page needed.
    const unsub = await fetch(unsubscribe, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(unsub.status).toBe(200);
  });

  it('no-shows get the replay link after the end, viewers who watched do not; on-demand sessions start on arrival', async () => {
    const gate = {
      emailRequired: true,
      privacyNoticeUrl: 'https://example.com/privacy',
      privacyNoticeVersion: '1',
    };
    // 90 s recording, started 82 s ago: it ends in about 8 s.
    const start = Math.floor((Date.now() - 82_000) / 1000) * 1000;
    const event = await createAutomated(
      { kind: 'once', startsAt: new Date(start).toISOString(), replayDays: 2 },
      { gate },
    );
    const sessionAt = new Date(start).toISOString();
    const watcher = new Viewer(event);
    const joined = await watcher.call<Info>('POST', '/register', {
      email: 'carol@example.com',
      noticeVersion: '1',
      sessionAt,
    });
    expect(joined.json.state).toBe('playable');
    expect(
      (
        await watcher.call('POST', '/heartbeat', {
          view: (joined.json as unknown as { playback: { view: string } }).playback.view,
          position: 84,
          played: 1,
        })
      ).status,
    ).toBe(204);
    const noShow = new Viewer(event);
    expect(
      (await noShow.call('POST', '/register', { email: 'dave@example.com', noticeVersion: '1', sessionAt }))
        .status,
    ).toBe(201);
    const missed = await until(
      'the no-show mail',
      () =>
        smtp.mails.find(
          (m) => m.to === 'dave@example.com' && m.parsed.subject?.startsWith('Sorry we missed you'),
        ),
      40_000,
    );
    expect(missed.parsed.text).toContain('next 2 days');
    expect(missed.parsed.text).toMatch(/\/w\/\d{9}\?k=/);
    await new Promise((r) => setTimeout(r, 3000));
    expect(
      smtp.mails.filter((m) => m.to === 'carol@example.com' && m.parsed.subject?.startsWith('Sorry')),
    ).toHaveLength(0);
    const sessions = await api<{ sessions: { registrants: number; attendees: number }[] }>(
      'GET',
      `/api/events/${event.id}/sessions?from=${encodeURIComponent(new Date(start - 1000).toISOString())}&to=${encodeURIComponent(new Date(start + 1000).toISOString())}`,
    );
    expect(sessions.json.sessions[0]).toMatchObject({ registrants: 2, attendees: 1 });

    // Retention: registrants of a session more than RETENTION_DAYS ago are anonymised.
    const db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
    try {
      const erased = await anonymiseExpiredRegistrants(db, new Date(start + 91 * 86_400_000), 90);
      expect(erased).toBeGreaterThanOrEqual(2);
      const left = await db
        .selectFrom('registrants')
        .select(['email'])
        .where('event_id', '=', event.id)
        .execute();
      expect(left.map((r) => r.email)).toEqual([null, null]);
    } finally {
      await db.destroy();
    }

    // On demand: the session is the viewer's own and starts when they arrive.
    const onDemand = await createAutomated({ kind: 'on_demand' });
    const viewer = new Viewer(onDemand);
    expect((await viewer.call<Info>('GET', '/info.json')).json.state).toBe('choose');
    const now = await viewer.call<Info>('POST', '/session', { sessionAt: 'now' });
    expect(now.json.state).toBe('playable');
    expect(now.json.playback!.live).toBe(true);
    const master = parseMasterPlaylist(await (await fetch(now.json.playback!.master)).text());
    const first = parseMediaPlaylist(
      await (await fetch(new URL(master.variants[0]!.uri, now.json.playback!.master))).text(),
    );
    expect(first.mediaSequence).toBe(0);
    expect(first.segments.length).toBeLessThanOrEqual(2);
    // A scheduled webinar has no "now" session.
    expect((await noShow.call('POST', '/session', { sessionAt: 'now' })).status).toBe(400);
  });

  it('moving a session moves its pending reminders; deleting the event cancels them', async () => {
    const first = Math.floor((Date.now() + 3 * 3600_000) / 1000) * 1000;
    const event = await createAutomated({ kind: 'once', startsAt: new Date(first).toISOString() });
    const viewer = new Viewer(event);
    expect(
      (
        await viewer.call('POST', '/register', {
          email: 'bob@example.com',
          sessionAt: new Date(first).toISOString(),
        })
      ).status,
    ).toBe(201);
    const registrant = (
      await api<{ registrants: { id: string }[] }>('GET', `/api/events/${event.id}/registrants`)
    ).json.registrants[0]!;
    const redis = new Redis(server.redisUrl, { maxRetriesPerRequest: null });
    const queue = new Queue('email', { connection: redis });
    try {
      const oldIso = new Date(first).toISOString();
      expect(await queue.getJob(mailJobId('reminder', registrant.id, oldIso, 8))).toBeDefined();
      const moved = first + 24 * 3600_000;
      expect(
        (
          await api('PATCH', `/api/events/${event.id}`, {
            schedule: { kind: 'once', timezone: 'Europe/Rome', startsAt: new Date(moved).toISOString() },
          })
        ).status,
      ).toBe(200);
      const newIso = new Date(moved).toISOString();
      expect(await queue.getJob(mailJobId('reminder', registrant.id, oldIso, 8))).toBeUndefined();
      const job = await queue.getJob(mailJobId('reminder', registrant.id, newIso, 8));
      expect(job).toBeDefined();
      expect(job!.timestamp + job!.opts.delay!).toBeGreaterThan(moved - 9000);
      const sessions = await api<{ sessions: { startsAt: string; registrants: number }[] }>(
        'GET',
        `/api/events/${event.id}/sessions?from=${encodeURIComponent(new Date(moved - 1000).toISOString())}&to=${encodeURIComponent(new Date(moved + 1000).toISOString())}`,
      );
      expect(sessions.json.sessions[0]).toMatchObject({ startsAt: newIso, registrants: 1 });

      expect((await api('DELETE', `/api/events/${event.id}`)).status).toBe(204);
      expect(await queue.getJob(mailJobId('reminder', registrant.id, newIso, 8))).toBeUndefined();
      expect(await queue.getJob(mailJobId('missed', registrant.id, newIso))).toBeUndefined();
    } finally {
      await queue.close();
      redis.disconnect();
    }
  });
});
