import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScheduleSchema } from '../../src/automated/schedule-schema.ts';
import {
  eachSessionStart,
  isSessionStart,
  parseRRule,
  sessionStarts,
  validateSchedule,
  WEEKDAYS,
  type Schedule,
} from '../../src/automated/schedule.ts';
import { joinableSessions, SESSION_HORIZON_MS } from '../../src/automated/sessions.ts';

const iso = (ms: number) => new Date(ms).toISOString();
const DAY = 86_400_000;

/** Counts time-zone lookups (the costly part of enumeration): every one goes through formatToParts. */
function countZoneLookups<T>(work: () => T): { result: T; lookups: number } {
  const spy = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
  try {
    const result = work();
    return { result, lookups: spy.mock.calls.length };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

const recurring = (start: string, rrule: string, timezone = 'UTC'): Schedule => ({
  kind: 'recurring',
  timezone,
  start,
  rrule,
});

describe('enumeration does work in proportion to what it returns', () => {
  const now = Date.UTC(2026, 10, 25, 9, 3);
  const jit: Schedule = {
    kind: 'jit',
    timezone: 'Europe/Rome',
    everyMinutes: 5,
    openingHours: { from: '00:00', to: '24:00' },
  };

  it('the next six sessions of a jit schedule every 5 minutes take a few days of zone lookups, not 400', () => {
    const { result, lookups } = countZoneLookups(() => joinableSessions(jit, 3600, now, 6));
    expect(result).toHaveLength(6);
    // Sessions started in the last hour are live; the first is the one started an hour ago.
    expect(result[0]!.startMs).toBe(Date.UTC(2026, 10, 25, 8, 5));
    expect(result.every((s) => s.state === 'live')).toBe(true);
    expect(lookups).toBeLessThan(40);
  });

  it('sessionStarts stops at the limit, and its limited answer is the start of the full one', () => {
    const limited = countZoneLookups(() => sessionStarts(jit, now, now + SESSION_HORIZON_MS, 3));
    expect(limited.result.map(iso)).toEqual([
      '2026-11-25T09:05:00.000Z',
      '2026-11-25T09:10:00.000Z',
      '2026-11-25T09:15:00.000Z',
    ]);
    expect(limited.lookups).toBeLessThan(20);
    expect(sessionStarts(jit, now, now + 2 * DAY)).toHaveLength(576);
    expect(sessionStarts(jit, now, now + 2 * DAY, 0)).toEqual([]);
    // The generator hands out starts one at a time.
    const next = eachSessionStart(jit, now, now + SESSION_HORIZON_MS).next();
    expect(next.value).toBe(Date.UTC(2026, 10, 25, 9, 5));
  });

  it('a daily rule with DTSTART years ago starts walking at the asked day, not at DTSTART', () => {
    const daily = recurring('2001-01-01T10:00', 'FREQ=DAILY', 'America/New_York');
    const session = Date.UTC(2026, 10, 25, 15); // 10:00 EST
    const check = countZoneLookups(() => isSessionStart(daily, session));
    expect(check.result).toBe(true);
    expect(check.lookups).toBeLessThan(20);
    expect(isSessionStart(daily, session + 60_000)).toBe(false);
    const next = countZoneLookups(() => joinableSessions(daily, 3600, now, 6));
    expect(next.result.map((s) => iso(s.startMs))[0]).toBe('2026-11-25T15:00:00.000Z');
    expect(next.result).toHaveLength(6);
    expect(next.lookups).toBeLessThan(40);
  });

  it('a COUNT rule counts from DTSTART with date arithmetic only, and ends with the series', () => {
    // 10,000 daily sessions from 1 January 2001: the last is on 18 May 2028.
    const counted = recurring('2001-01-01T10:00', 'FREQ=DAILY;COUNT=10000', 'America/New_York');
    const may2028 = countZoneLookups(() =>
      sessionStarts(counted, Date.UTC(2028, 4, 16), Date.UTC(2028, 4, 16) + SESSION_HORIZON_MS, 5),
    );
    expect(may2028.result.map(iso)).toEqual([
      '2028-05-16T14:00:00.000Z',
      '2028-05-17T14:00:00.000Z',
      '2028-05-18T14:00:00.000Z',
    ]);
    expect(may2028.lookups).toBeLessThan(20);
    const after = countZoneLookups(() => sessionStarts(counted, Date.UTC(2030, 0, 1), Date.UTC(2031, 0, 1)));
    expect(after.result).toEqual([]);
    expect(after.lookups).toBe(0);
  });

  it('on a spring-forward day, jit slots come out ascending and once each', () => {
    // Rome, 29 March 2026: 02:00 to 03:00 does not exist. 02:00 and 02:30 move on an hour
    // (RFC 5545 3.3.5) onto 03:00 and 03:30, which are the same instants: one session each.
    const gap: Schedule = {
      kind: 'jit',
      timezone: 'Europe/Rome',
      everyMinutes: 30,
      openingHours: { from: '01:00', to: '04:00' },
    };
    expect(sessionStarts(gap, Date.UTC(2026, 2, 28, 12), Date.UTC(2026, 2, 29, 12)).map(iso)).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T00:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
  });
});

/** A small seeded generator, so the property runs are the same on every run (no flaky test). */
function random(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}

const two = (n: number) => String(n).padStart(2, '0');

/**
 * RFC 5545 3.3.10 read day by day, the slow obvious way: which UTC dates from DTSTART the rule
 * produces, COUNT counted from DTSTART, blackouts cancelling without uncounting.
 */
function referenceDates(rrule: string, start: Date, toDay: number, blackout: Set<number>): number[] {
  const parts = Object.fromEntries(rrule.split(';').map((p) => p.split('=') as [string, string]));
  const interval = Number(parts.INTERVAL ?? 1);
  const byDay = (parts.BYDAY?.split(',') ?? []).map((d) => ({
    day: WEEKDAYS.indexOf(d.slice(-2) as never),
    ordinal: d.length > 2 ? Number(d.slice(0, -2)) : undefined,
  }));
  const byMonthDay = parts.BYMONTHDAY?.split(',').map(Number) ?? [];
  const wkst = WEEKDAYS.indexOf((parts.WKST ?? 'MO') as never);
  const count = parts.COUNT ? Number(parts.COUNT) : Infinity;
  const s = Math.floor(start.getTime() / DAY);
  const weekday = (n: number) => (new Date(n * DAY).getUTCDay() + 6) % 7;
  const weekOf = (n: number) => n - ((weekday(n) - wkst + 7) % 7);
  const out: number[] = [];
  let seen = 0;
  for (let n = s; n <= toDay; n++) {
    const date = new Date(n * DAY);
    const day = date.getUTCDate();
    const length = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    const monthDayOk = byMonthDay.some((d) => (d > 0 ? d : length + d + 1) === day);
    const byDayOk = byDay.some(
      (b) =>
        b.day === weekday(n) &&
        (b.ordinal === undefined ||
          (b.ordinal > 0
            ? Math.ceil(day / 7) === b.ordinal
            : Math.floor((length - day) / 7) + 1 === -b.ordinal)),
    );
    let match: boolean;
    if (parts.FREQ === 'DAILY') {
      match =
        (n - s) % interval === 0 &&
        (byDay.length === 0 || byDayOk) &&
        (byMonthDay.length === 0 || monthDayOk);
    } else if (parts.FREQ === 'WEEKLY') {
      match =
        ((weekOf(n) - weekOf(s)) / 7) % interval === 0 &&
        (byDay.length === 0 ? weekday(n) === weekday(s) : byDayOk);
    } else {
      const months =
        (date.getUTCFullYear() - start.getUTCFullYear()) * 12 + date.getUTCMonth() - start.getUTCMonth();
      match =
        months % interval === 0 &&
        (byMonthDay.length > 0
          ? monthDayOk && (byDay.length === 0 || byDayOk)
          : byDay.length > 0
            ? byDayOk
            : day === start.getUTCDate());
    }
    if (!match) continue;
    seen += 1;
    if (seen > count) break;
    if (!blackout.has(n)) out.push(n);
  }
  return out;
}

describe('enumeration properties (seeded)', () => {
  it('recurring rules: same dates as a day-by-day reading of RFC 5545; limits, windows and isSessionStart agree', () => {
    const r = random(20_261_125);
    for (let run = 0; run < 250; run++) {
      const freq = r.pick(['DAILY', 'WEEKLY', 'MONTHLY'] as const);
      const parts = [`FREQ=${freq}`];
      if (r.chance(0.5)) parts.push(`INTERVAL=${r.int(1, 5)}`);
      if (freq !== 'WEEKLY' && r.chance(0.4)) {
        parts.push(`BYMONTHDAY=${[r.int(1, 31), ...(r.chance(0.5) ? [-r.int(1, 7)] : [])].join(',')}`);
      }
      if (r.chance(0.6)) {
        const days = WEEKDAYS.filter(() => r.chance(0.35));
        const ordinal = () =>
          freq === 'MONTHLY' && r.chance(0.5) ? String(r.pick([1, 2, 3, 4, 5, -1, -2])) : '';
        if (days.length > 0) parts.push(`BYDAY=${days.map((d) => ordinal() + d).join(',')}`);
      }
      if (r.chance(0.4)) parts.push(`WKST=${r.pick(WEEKDAYS)}`);
      const bound = r.int(0, 2);
      if (bound === 1) parts.push(`COUNT=${r.int(1, 40)}`);
      const start = new Date(Date.UTC(r.int(2025, 2026), r.int(0, 11), r.int(1, 28), r.int(0, 23), 30));
      const untilDay = Math.floor(start.getTime() / DAY) + r.int(0, 400);
      if (bound === 2) {
        const u = new Date(untilDay * DAY);
        parts.push(`UNTIL=${u.getUTCFullYear()}${two(u.getUTCMonth() + 1)}${two(u.getUTCDate())}T235959Z`);
      }
      const rrule = parts.join(';');
      const blackoutDates = r.chance(0.3) ? ['2026-01-01', '2026-06-15', '2026-12-25'] : [];
      const schedule: Schedule = {
        ...recurring(
          `${start.getUTCFullYear()}-${two(start.getUTCMonth() + 1)}-${two(start.getUTCDate())}T${two(start.getUTCHours())}:30`,
          rrule,
        ),
        blackoutDates,
      };
      const context = `${schedule.kind === 'recurring' ? schedule.start : ''} ${rrule}`;
      expect(() => validateSchedule(schedule), context).not.toThrow();
      const from = Date.UTC(2025, 0, 1) + r.int(0, 800) * DAY + r.int(0, DAY - 1);
      const to = from + r.int(1, 200) * DAY;
      const all = sessionStarts(schedule, from, to);

      const blackout = new Set(blackoutDates.map((d) => Date.parse(d) / DAY));
      const lastDay = Math.floor(to / DAY);
      const expected = referenceDates(rrule, start, lastDay, blackout)
        .filter((n) => bound !== 2 || n <= untilDay)
        .map((n) => n * DAY + start.getUTCHours() * 3_600_000 + 30 * 60_000)
        .filter((at) => at >= from && at < to);
      expect(all.map(iso), context).toEqual(expected.map(iso));

      const k = r.int(0, 4);
      expect(sessionStarts(schedule, from, to, k), context).toEqual(all.slice(0, k));
      const middle = r.int(from, to);
      expect(
        [...sessionStarts(schedule, from, middle), ...sessionStarts(schedule, middle, to)],
        context,
      ).toEqual(all);
      for (const at of all.slice(0, 3)) {
        expect(isSessionStart(schedule, at), context).toBe(true);
        expect(isSessionStart(schedule, at - 60_000), context).toBe(false);
      }
    }
  });

  it('jit schedules across zones and daylight-saving days: ascending, once each, limits and windows agree', () => {
    const r = random(5545);
    const zones = [
      'Europe/Rome',
      'America/New_York',
      'America/Santiago',
      'Australia/Lord_Howe',
      'Asia/Tokyo',
    ];
    for (let run = 0; run < 60; run++) {
      const open = r.int(0, 20);
      const schedule: Schedule = {
        kind: 'jit',
        timezone: r.pick(zones),
        everyMinutes: r.pick([5, 15, 30, 45, 90]),
        openingHours: {
          from: `${two(open)}:00`,
          to: r.chance(0.3) ? '24:00' : `${two(r.int(open + 1, 23))}:30`,
          ...(r.chance(0.5) ? { days: WEEKDAYS.filter((_, i) => i === run % 7 || r.chance(0.4)) } : {}),
        },
      };
      const context = JSON.stringify(schedule);
      expect(() => validateSchedule(schedule), context).not.toThrow();
      // Around the 2026 changes in these zones, or anywhere in the year.
      const around = r.pick([
        Date.UTC(2026, 2, 29),
        Date.UTC(2026, 9, 25),
        Date.UTC(2026, 2, 8),
        Date.UTC(2026, 10, 1),
        Date.UTC(2026, 3, 5),
        Date.UTC(2026, 8, 6),
        Date.UTC(2026, 9, 4),
        Date.UTC(2026, 0, 1) + r.int(0, 364) * DAY,
      ]);
      const from = around - r.int(0, 2 * DAY);
      const to = from + r.int(1, 4 * DAY);
      const all = sessionStarts(schedule, from, to);
      expect(
        all.every((at, i) => at >= from && at < to && (i === 0 || at > all[i - 1]!)),
        context,
      ).toBe(true);
      const k = r.int(0, 5);
      expect(sessionStarts(schedule, from, to, k), context).toEqual(all.slice(0, k));
      const middle = r.int(from, to);
      expect(
        [...sessionStarts(schedule, from, middle), ...sessionStarts(schedule, middle, to)],
        context,
      ).toEqual(all);
      for (const at of all.slice(0, 4)) expect(isSessionStart(schedule, at), context).toBe(true);
    }
  });
});

describe('every schedule input is bounded', () => {
  const rule = (rrule: string) => () => validateSchedule(recurring('2026-01-05T10:00', rrule));

  it('INTERVAL, COUNT, list lengths and ordinals', () => {
    expect(rule('FREQ=DAILY;INTERVAL=1000')).not.toThrow();
    expect(rule('FREQ=DAILY;INTERVAL=1001')).toThrow('INTERVAL must be at most 1000');
    expect(rule('FREQ=DAILY;INTERVAL=0x10')).toThrow('INTERVAL must be a positive whole number');
    expect(rule('FREQ=DAILY;INTERVAL=1e3')).toThrow('INTERVAL must be a positive whole number');
    expect(rule('FREQ=DAILY;COUNT=10000')).not.toThrow();
    expect(rule('FREQ=DAILY;COUNT=10001')).toThrow('COUNT must be at most 10000');
    expect(rule(`FREQ=WEEKLY;BYDAY=${Array(36).fill('MO').join(',')}`)).toThrow('BYDAY lists at most 35');
    const monthDays = [...Array.from({ length: 31 }, (_, i) => i + 1), 1].join(',');
    expect(rule(`FREQ=MONTHLY;BYMONTHDAY=${monthDays}`)).toThrow('BYMONTHDAY lists at most 31');
    expect(rule('FREQ=MONTHLY;BYDAY=6MO')).toThrow('a month has at most five of each weekday');
    expect(rule('FREQ=MONTHLY;BYDAY=-6MO')).toThrow('use 1 to 5 or -1 to -5');
    expect(rule('FREQ=MONTHLY;BYDAY=0MO')).toThrow('use 1 to 5 or -1 to -5');
    expect(rule('FREQ=MONTHLY;BYDAY=5MO,-5FR')).not.toThrow();
    expect(rule('FREQ=WEEKLY;BYDAY=2TU')).toThrow(
      'BYDAY=2TU needs FREQ=MONTHLY; with FREQ=WEEKLY write BYDAY=TU',
    );
    expect(rule('FREQ=DAILY;BYDAY=-1FR')).toThrow('needs FREQ=MONTHLY');
    expect(rule('FREQ=DAILY;FREQ=WEEKLY')).toThrow('FREQ appears twice');
    expect(rule(`FREQ=DAILY;${'X'.repeat(300)}`)).toThrow('rrule must be at most 300 characters');
  });

  it('years, string lengths and list sizes', () => {
    expect(() => validateSchedule(recurring('1999-12-31T10:00', 'FREQ=DAILY'))).toThrow(
      'start must be in the years 2000 to 2100, not 1999',
    );
    expect(() => validateSchedule(recurring('2101-01-01T10:00', 'FREQ=DAILY'))).toThrow('not 2101');
    expect(() =>
      validateSchedule(recurring('2026-01-01T10:00', 'FREQ=DAILY;UNTIL=22000101T000000Z')),
    ).toThrow('UNTIL must be in the years 2000 to 2100');
    expect(() =>
      validateSchedule({ kind: 'once', timezone: 'UTC', startsAt: '1970-01-01T00:00:00Z' }),
    ).toThrow('startsAt must be in the years 2000 to 2100');
    const huge = () => validateSchedule(recurring(`2026-01-01T10:00${'0'.repeat(100_000)}`, 'FREQ=DAILY'));
    expect(huge).toThrow(/^start 2026-01-01T10:0+… is not a local date-time like 2026-12-01T10:00$/);
    const jit =
      (from: string, to: string, extra: object = {}) =>
      () =>
        validateSchedule({
          kind: 'jit',
          timezone: 'UTC',
          everyMinutes: 15,
          openingHours: { from, to },
          ...extra,
        });
    expect(jit('09:00:00', '10:00')).toThrow('opening hours from 09:00:00 is not a time like 09:30');
    expect(() =>
      validateSchedule({
        kind: 'jit',
        timezone: 'UTC',
        everyMinutes: 1441,
        openingHours: { from: '09:00', to: '10:00' },
      }),
    ).toThrow('everyMinutes must be a whole number from 5 to 1440');
    expect(() =>
      validateSchedule({
        kind: 'jit',
        timezone: 'UTC',
        everyMinutes: 15,
        openingHours: { from: '09:00', to: '10:00', days: [] },
      }),
    ).toThrow('opening days must list one to seven weekdays');
    expect(() =>
      validateSchedule({
        kind: 'on_demand',
        timezone: 'UTC',
        blackoutDates: Array.from({ length: 367 }, () => '2026-12-25'),
      }),
    ).toThrow('at most 366 blackout dates');

    const parsed = ScheduleSchema.safeParse({
      kind: 'recurring',
      timezone: 'UTC',
      start: '2026-01-01T10:00:00.000',
      rrule: 'FREQ=DAILY',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toContain('start looks like 2026-12-01T10:00');
    const longClock = ScheduleSchema.safeParse({
      kind: 'jit',
      timezone: 'UTC',
      everyMinutes: 15,
      openingHours: { from: '09:00'.repeat(100), to: '10:00' },
    });
    expect(longClock.error?.issues.map((i) => i.message)).toContain('opening hours look like 09:30');
  });
});

describe('impossible wall times are rejected, not moved', () => {
  it('dates and times that do not exist', () => {
    expect(() => validateSchedule(recurring('2027-02-30T25:61', 'FREQ=DAILY'))).toThrow(
      'start 2027-02-30 is not a real date: 2027-02 has 28 days',
    );
    expect(() => validateSchedule(recurring('2027-02-28T25:00', 'FREQ=DAILY'))).toThrow(
      'start 25:00 is not a real time of day: hours run 00 to 23 and minutes 00 to 59',
    );
    expect(() => validateSchedule(recurring('2027-02-28T10:61', 'FREQ=DAILY'))).toThrow('start 10:61');
    expect(() => validateSchedule(recurring('2027-02-28T24:00', 'FREQ=DAILY'))).toThrow('start 24:00');
    expect(() => validateSchedule(recurring('2027-13-01T10:00', 'FREQ=DAILY'))).toThrow(
      'there is no month 13',
    );
    expect(() => validateSchedule(recurring('2028-02-29T10:00', 'FREQ=DAILY'))).not.toThrow();
    expect(() => sessionStarts(recurring('2027-02-30T10:00', 'FREQ=DAILY'), 0, DAY)).toThrow(
      'not a real date',
    );
    expect(() =>
      validateSchedule(recurring('2026-01-01T10:00', 'FREQ=DAILY;UNTIL=20260230T000000Z')),
    ).toThrow('UNTIL=20260230T000000Z is not a real date');

    const jit = (from: string, to: string) => () =>
      validateSchedule({ kind: 'jit', timezone: 'UTC', everyMinutes: 15, openingHours: { from, to } });
    expect(jit('09:00', '24:00')).not.toThrow();
    expect(jit('09:00', '24:30')).toThrow('opening hours to 24:30 is not a real time of day');
    expect(jit('09:60', '12:00')).toThrow('opening hours from 09:60 is not a real time of day');

    expect(() =>
      validateSchedule({ kind: 'on_demand', timezone: 'UTC', blackoutDates: ['2026-02-30'] }),
    ).toThrow('blackout date 2026-02-30 is not a real date: 2026-02 has 28 days');
    expect(() =>
      validateSchedule({ kind: 'once', timezone: 'UTC', startsAt: '2026-02-30T10:00:00Z' }),
    ).toThrow('startsAt 2026-02-30T10:00:00Z is not a real date');
    expect(() =>
      validateSchedule({ kind: 'once', timezone: 'UTC', startsAt: '2026-02-28T24:30:00Z' }),
    ).toThrow('not a real time of day');
    expect(() =>
      validateSchedule({ kind: 'once', timezone: 'UTC', startsAt: '2026-02-28T10:00:00+01:00' }),
    ).not.toThrow();
  });

  it('a DTSTART in a spring-forward gap is valid and moves on per RFC 5545 3.3.5', () => {
    const gap = recurring('2026-03-29T02:30', 'FREQ=DAILY;COUNT=2', 'Europe/Rome');
    expect(() => validateSchedule(gap)).not.toThrow();
    // 02:30 does not exist that day: it is 03:30 CEST (01:30Z); the next day 02:30 CEST is 00:30Z.
    expect(sessionStarts(gap, Date.UTC(2026, 2, 28), Date.UTC(2026, 3, 1)).map(iso)).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });
});

describe('RFC 5545 3.3.10 rule parts combine as the RFC says', () => {
  const between = (schedule: Schedule, from: string, to: string) =>
    sessionStarts(schedule, Date.parse(from), Date.parse(to)).map((ms) => iso(ms).slice(0, 10));

  it('MONTHLY: BYDAY limits BYMONTHDAY (both must match)', () => {
    // The 30th or 31st that is also the month's fifth Sunday.
    const fifthSunday = recurring('2026-01-01T10:00', 'FREQ=MONTHLY;BYMONTHDAY=30,31;BYDAY=5SU');
    expect(between(fifthSunday, '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z')).toEqual([
      '2026-05-31',
      '2026-08-30',
      '2027-01-31',
      '2027-05-30',
      '2027-10-31',
    ]);
    // The RFC's own example (3.8.5.3): every Friday the 13th.
    const friday13 = recurring('2026-01-01T10:00', 'FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13');
    expect(between(friday13, '2026-01-01T00:00:00Z', '2028-01-01T00:00:00Z')).toEqual([
      '2026-02-13',
      '2026-03-13',
      '2026-11-13',
      '2027-08-13',
    ]);
  });

  it('DAILY: BYMONTHDAY limits; WEEKLY with BYMONTHDAY is refused', () => {
    const firstAndLast = recurring('2026-01-01T10:00', 'FREQ=DAILY;BYMONTHDAY=1,15,-1');
    expect(between(firstAndLast, '2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z')).toEqual([
      '2026-01-01',
      '2026-01-15',
      '2026-01-31',
      '2026-02-01',
      '2026-02-15',
      '2026-02-28',
    ]);
    expect(() => parseRRule('FREQ=WEEKLY;BYMONTHDAY=1')).toThrow(
      'BYMONTHDAY cannot be used with FREQ=WEEKLY: use FREQ=MONTHLY or FREQ=DAILY',
    );
  });

  it('WKST decides which weeks a WEEKLY INTERVAL keeps (the RFC example)', () => {
    const rfc = (wkst: string) =>
      recurring(
        '1997-08-05T09:00',
        `FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=${wkst}`,
        'America/New_York',
      );
    const from = Date.UTC(1997, 0, 1);
    const to = Date.UTC(1998, 0, 1);
    // "==> (1997 EDT) August 5,10,19,24" and, with WKST=SU, "August 5,17,19,31" (09:00 EDT = 13:00Z).
    expect(sessionStarts(rfc('MO'), from, to).map(iso)).toEqual([
      '1997-08-05T13:00:00.000Z',
      '1997-08-10T13:00:00.000Z',
      '1997-08-19T13:00:00.000Z',
      '1997-08-24T13:00:00.000Z',
    ]);
    expect(sessionStarts(rfc('SU'), from, to).map(iso)).toEqual([
      '1997-08-05T13:00:00.000Z',
      '1997-08-17T13:00:00.000Z',
      '1997-08-19T13:00:00.000Z',
      '1997-08-31T13:00:00.000Z',
    ]);
    expect(parseRRule('FREQ=WEEKLY;WKST=su').wkst).toBe('SU');
    expect(() => parseRRule('FREQ=WEEKLY;WKST=XX')).toThrow(
      'WKST=XX is not a weekday (MO, TU, WE, TH, FR, SA or SU)',
    );
  });
});
