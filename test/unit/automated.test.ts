import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import type { MediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { sessionWindow, timelineOf, writeSessionPlaylist } from '../../pipelines/simulive.ts';
import { composeSessionMail } from '../../src/automated/emails.ts';
import { sessionInvite } from '../../src/automated/ics.ts';
import { markersOf, InteractionsSchema } from '../../src/automated/interactions.ts';
import { mailJobId } from '../../src/automated/reminders.ts';
import {
  parseRRule,
  sessionStarts,
  validateSchedule,
  zonedToUtc,
  type Schedule,
} from '../../src/automated/schedule.ts';
import {
  joinableSessions,
  parseSessionScopeId,
  sessionScopeId,
  sessionView,
} from '../../src/automated/sessions.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const day = 86_400_000;

describe('schedules', () => {
  it('a weekly 10:00 in Europe/Rome stays at 10:00 local across the October and March changes', () => {
    const schedule: Schedule = {
      kind: 'recurring',
      timezone: 'Europe/Rome',
      start: '2026-10-15T10:00',
      rrule: 'FREQ=WEEKLY;BYDAY=TH',
    };
    const starts = sessionStarts(schedule, Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 6)).map(iso);
    // CEST (UTC+2) until 25 October 2026, CET (UTC+1) after.
    expect(starts).toEqual([
      '2026-10-15T08:00:00.000Z',
      '2026-10-22T08:00:00.000Z',
      '2026-10-29T09:00:00.000Z',
      '2026-11-05T09:00:00.000Z',
    ]);
    const spring = sessionStarts(schedule, Date.UTC(2027, 2, 20), Date.UTC(2027, 3, 3)).map(iso);
    // Back to CEST on 28 March 2027.
    expect(spring).toEqual(['2027-03-25T09:00:00.000Z', '2027-04-01T08:00:00.000Z']);
  });

  it('weekdays at 13:00 in America/New_York across the November and March changes', () => {
    const schedule: Schedule = {
      kind: 'recurring',
      timezone: 'America/New_York',
      start: '2026-10-30T13:00',
      rrule: 'FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR',
    };
    const starts = sessionStarts(schedule, Date.UTC(2026, 9, 30), Date.UTC(2026, 10, 4)).map(iso);
    // EDT (UTC-4) until 1 November 2026, EST (UTC-5) after; no weekend sessions.
    expect(starts).toEqual([
      '2026-10-30T17:00:00.000Z',
      '2026-11-02T18:00:00.000Z',
      '2026-11-03T18:00:00.000Z',
    ]);
    const march = sessionStarts(schedule, Date.UTC(2027, 2, 12), Date.UTC(2027, 2, 16)).map(iso);
    expect(march).toEqual(['2027-03-12T18:00:00.000Z', '2027-03-15T17:00:00.000Z']);
  });

  it('monthly on the second Tuesday, COUNT and UNTIL, blackout dates', () => {
    const monthly: Schedule = {
      kind: 'recurring',
      timezone: 'Europe/London',
      start: '2026-01-13T16:00',
      rrule: 'FREQ=MONTHLY;BYDAY=2TU;COUNT=3',
      blackoutDates: ['2026-02-10'],
    };
    expect(sessionStarts(monthly, Date.UTC(2026, 0, 1), Date.UTC(2026, 11, 31)).map(iso)).toEqual([
      '2026-01-13T16:00:00.000Z',
      // 10 Feb is blacked out but still counts towards COUNT=3.
      '2026-03-10T16:00:00.000Z',
    ]);
    const until: Schedule = {
      kind: 'recurring',
      timezone: 'UTC',
      start: '2026-05-01T09:00',
      rrule: 'FREQ=DAILY;INTERVAL=2;UNTIL=20260507T000000Z',
    };
    expect(sessionStarts(until, Date.UTC(2026, 0, 1), Date.UTC(2026, 11, 31)).map(iso)).toEqual([
      '2026-05-01T09:00:00.000Z',
      '2026-05-03T09:00:00.000Z',
      '2026-05-05T09:00:00.000Z',
    ]);
  });

  it('just-in-time slots every 15 minutes within opening hours, on the listed days only', () => {
    const jit: Schedule = {
      kind: 'jit',
      timezone: 'Europe/Rome',
      everyMinutes: 15,
      openingHours: { from: '09:00', to: '10:00', days: ['MO', 'FR'] },
    };
    // Friday 27 and Saturday 28 November 2026 (UTC+1).
    const starts = sessionStarts(jit, Date.UTC(2026, 10, 27), Date.UTC(2026, 10, 29)).map(iso);
    expect(starts).toEqual([
      '2026-11-27T08:00:00.000Z',
      '2026-11-27T08:15:00.000Z',
      '2026-11-27T08:30:00.000Z',
      '2026-11-27T08:45:00.000Z',
    ]);
  });

  it('local times in a spring-forward gap move forward; rules are checked with readable messages', () => {
    // 02:30 does not exist in Rome on 29 March 2026: it becomes 03:30 CEST = 01:30Z.
    expect(iso(zonedToUtc(2026, 3, 29, 2, 30, 'Europe/Rome'))).toBe('2026-03-29T01:30:00.000Z');
    // 02:30 on 25 October 2026 happens twice: the first (CEST) is taken.
    expect(iso(zonedToUtc(2026, 10, 25, 2, 30, 'Europe/Rome'))).toBe('2026-10-25T00:30:00.000Z');
    expect(() => parseRRule('FREQ=YEARLY')).toThrow(/not supported/);
    expect(() => parseRRule('FREQ=WEEKLY;BYDAY=XX')).toThrow(/weekday/);
    expect(() =>
      validateSchedule({ kind: 'once', timezone: 'Mars/Olympus', startsAt: '2026-01-01T00:00:00Z' }),
    ).toThrow(/IANA/);
    expect(() =>
      validateSchedule({
        kind: 'jit',
        timezone: 'UTC',
        everyMinutes: 15,
        openingHours: { from: '10:00', to: '09:00' },
      }),
    ).toThrow(/opening hours/);
  });

  it('sessions: state by the clock, joinable list, scope ids', () => {
    const once: Schedule = { kind: 'once', timezone: 'UTC', startsAt: '2026-11-25T10:00:00Z', replayDays: 2 };
    const start = Date.parse('2026-11-25T10:00:00Z');
    expect(sessionView(once, start, 600, start - 1).state).toBe('upcoming');
    expect(sessionView(once, start, 600, start + 61_000).state).toBe('live');
    expect(sessionView(once, start, 600, start + 601_000).state).toBe('replay');
    expect(sessionView(once, start, 600, start + 3 * day).state).toBe('ended');
    expect(joinableSessions(once, 600, start + 61_000, 5).map((s) => s.state)).toEqual(['live']);
    expect(parseSessionScopeId(sessionScopeId('123456789', start))).toEqual({
      webinarId: '123456789',
      startMs: start,
    });
    expect(parseSessionScopeId('123456789')).toBeUndefined();
  });
});

describe('simulive playlists', () => {
  const vod: MediaPlaylist = {
    targetDuration: 2,
    mediaSequence: 0,
    mapUri: 'init_0.mp4',
    segments: Array.from({ length: 60 }, (_, i) => ({
      uri: `seg_${String(i).padStart(5, '0')}.m4s`,
      duration: 2,
    })),
    ended: true,
  };
  const timeline = timelineOf(vod.segments);
  const start = Date.parse('2026-11-25T10:00:00Z');
  const markers = markersOf(
    InteractionsSchema.parse({
      ctas: [
        {
          id: 'buy',
          headline: 'Get 20 % off',
          buttonLabel: 'Buy',
          url: 'https://example.com/buy',
          start: 70,
          end: 90,
        },
      ],
      chat: [{ id: 'hi', at: 5, author: 'Host', text: 'Welcome!' }],
    }),
  );

  it('before the start: waiting', () => {
    expect(sessionWindow(timeline, -5, 120, 6)).toBe('waiting');
  });

  it('at start + 61 s: segments up to the one playing now, media sequence of the window, no ENDLIST', () => {
    const window = sessionWindow(timeline, 61, 20, 6);
    expect(window).toEqual({ first: 20, last: 30, ended: false });
    const text = writeSessionPlaylist(
      vod,
      timeline,
      window as Exclude<typeof window, 'waiting'>,
      start,
      markers,
      10,
    );
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:20');
    expect(text).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:40.000Z');
    expect(text).toContain('seg_00030.m4s');
    expect(text).not.toContain('seg_00031.m4s');
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('PLAYLIST-TYPE');
    // The CTA at 70 s is announced within the 10 s look-ahead; the chat at 5 s left with its segments.
    expect(text).toMatch(
      /#EXT-X-DATERANGE:ID="cta-buy",CLASS="com.onair.cta",START-DATE="2026-11-25T10:01:10.000Z",DURATION=20.000,X-ONAIR-DATA="[A-Za-z0-9+/=]+"/,
    );
    expect(text).not.toContain('chat-hi');
  });

  it('after the end: everything, as VOD, with ENDLIST and every interaction', () => {
    const window = sessionWindow(timeline, 125, 20, 6);
    expect(window).toEqual({ first: 0, last: 59, ended: true });
    const text = writeSessionPlaylist(
      vod,
      timeline,
      window as Exclude<typeof window, 'waiting'>,
      start,
      markers,
      10,
    );
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text).toContain('chat-hi');
    expect(text).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:00.000Z');
  });
});

describe('emails', () => {
  it('the invite is RFC 5545 an iCalendar parser accepts: the session instant, in the event zone, folded and escaped', () => {
    for (const [at, zone, wall] of [
      ['2026-12-01T09:00:00Z', 'Europe/Rome', '2026-12-01T10:00:00'], // CET
      ['2026-07-01T08:00:00Z', 'Europe/Rome', '2026-07-01T10:00:00'], // CEST
      ['2026-11-02T18:00:00Z', 'America/New_York', '2026-11-02T13:00:00'], // EST, the day after the change
      ['2026-12-01T09:00:00Z', 'Asia/Tokyo', '2026-12-01T18:00:00'], // no daylight saving
      ['2026-12-01T09:00:00Z', 'UTC', '2026-12-01T09:00:00Z'],
    ] as const) {
      const start = Date.parse(at);
      const text = sessionInvite({
        uid: 'ev_1-rg_1@onair',
        title: 'Pricing, explained; live',
        description: 'A long description '.repeat(10),
        url: 'https://webinars.example.com/w/123456789?k=abc',
        startMs: start,
        endMs: start + 3600_000,
        timezone: zone,
        organizerName: 'onair',
        organizerEmail: 'webinars@example.com',
        sequence: 1,
        stampMs: start - day,
      });
      expect(text.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
      const jcal = ICAL.parse(text) as unknown[];
      const calendar = new ICAL.Component(jcal);
      const vtimezone = calendar.getFirstSubcomponent('vtimezone');
      if (vtimezone) ICAL.TimezoneService.register(new ICAL.Timezone(vtimezone));
      const event = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
      expect(event.summary).toBe('Pricing, explained; live');
      expect(event.startDate.toString()).toBe(wall);
      expect(event.startDate.toJSDate().toISOString(), zone).toBe(new Date(start).toISOString());
      expect(event.endDate.toJSDate().toISOString()).toBe(new Date(start + 3600_000).toISOString());
      expect(event.uid).toBe('ev_1-rg_1@onair');
      if (zone !== 'UTC') expect(text).toContain(`DTSTART;TZID=${zone}:`);
    }
  });

  it('subjects and links per kind; job ids are deterministic per registrant, session and offset', () => {
    const fields = {
      title: 'Launch',
      startMs: Date.parse('2026-12-01T09:00:00Z'),
      timezone: 'Europe/Rome',
      joinUrl: 'https://x/w/1?k=t',
      selfServiceUrl: 'https://x/me/t',
      unsubscribeUrl: 'https://x/u/t',
      replayDays: 7,
    };
    expect(composeSessionMail({ ...fields, kind: 'confirmation' }).subject).toBe("You're registered: Launch");
    const reminder = composeSessionMail({ ...fields, kind: 'reminder', offsetSeconds: 3600 });
    expect(reminder.subject).toBe('Starting in 1 hour: Launch');
    expect(reminder.text).toContain('10:00');
    expect(reminder.text).toContain('https://x/u/t');
    expect(composeSessionMail({ ...fields, kind: 'missed' }).text).toContain('next 7 days');
    const a = mailJobId('reminder', 'rg_1', '2026-12-01T09:00:00.000Z', 3600);
    expect(a).toBe(mailJobId('reminder', 'rg_1', '2026-12-01T09:00:00.000Z', 3600));
    expect(a).not.toBe(mailJobId('reminder', 'rg_1', '2026-12-08T09:00:00.000Z', 3600));
  });
});
