/**
 * When an automated webinar airs. Pure: a schedule and a time range in, session start instants out.
 *
 * Times are wall-clock times in the event's IANA time zone, turned into UTC instants per date, so
 * a 10:00 session stays at 10:00 local across daylight-saving changes. Recurrence is the RFC 5545
 * RRULE subset marketers use: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY (with ordinals for
 * MONTHLY, e.g. 2TU or -1FR), BYMONTHDAY, COUNT, UNTIL.
 */

export type Weekday = 'MO' | 'TU' | 'WE' | 'TH' | 'FR' | 'SA' | 'SU';
export const WEEKDAYS: readonly Weekday[] = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

interface ScheduleBase {
  /** IANA time zone, e.g. Europe/Rome. */
  readonly timezone: string;
  /** Local dates (YYYY-MM-DD) with no sessions. */
  readonly blackoutDates?: readonly string[];
  /** Days a session stays watchable as a replay after it ends (0: no replay, the page offers the next session). */
  readonly replayDays?: number;
}

export type Schedule =
  | (ScheduleBase & { readonly kind: 'once'; readonly startsAt: string })
  | (ScheduleBase & {
      readonly kind: 'recurring';
      /** First occurrence, local wall time `YYYY-MM-DDTHH:MM` (the DTSTART). */
      readonly start: string;
      readonly rrule: string;
    })
  | (ScheduleBase & {
      readonly kind: 'jit';
      /** A session every N minutes within opening hours ("just in time"). */
      readonly everyMinutes: number;
      readonly openingHours: {
        readonly from: string;
        readonly to: string;
        readonly days?: readonly Weekday[];
      };
    })
  /** Each viewer starts their own session when they arrive ("watch now"). */
  | (ScheduleBase & { readonly kind: 'on_demand' });

export interface RRule {
  freq: 'DAILY' | 'WEEKLY' | 'MONTHLY';
  interval: number;
  byDay: { day: Weekday; ordinal?: number }[];
  byMonthDay: number[];
  count?: number;
  untilMs?: number;
}

/** Parses the supported RRULE subset; throws a message fit for an API error. */
export function parseRRule(text: string): RRule {
  const rule: RRule = { freq: 'WEEKLY', interval: 1, byDay: [], byMonthDay: [] };
  let freq: string | undefined;
  for (const part of text.replace(/^RRULE:/i, '').split(';')) {
    if (!part) continue;
    const [name = '', value = ''] = part.split('=');
    switch (name.toUpperCase()) {
      case 'FREQ':
        freq = value.toUpperCase();
        if (freq !== 'DAILY' && freq !== 'WEEKLY' && freq !== 'MONTHLY') {
          throw new Error(`FREQ=${value} is not supported (DAILY, WEEKLY or MONTHLY)`);
        }
        rule.freq = freq;
        break;
      case 'INTERVAL':
        rule.interval = Number(value);
        if (!Number.isInteger(rule.interval) || rule.interval < 1)
          throw new Error('INTERVAL must be a positive integer');
        break;
      case 'BYDAY':
        rule.byDay = value.split(',').map((d) => {
          const m = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/i.exec(d.trim());
          if (!m) throw new Error(`BYDAY value ${d} is not a weekday like MO or 2TU`);
          return { day: m[2]!.toUpperCase() as Weekday, ...(m[1] ? { ordinal: Number(m[1]) } : {}) };
        });
        break;
      case 'BYMONTHDAY':
        rule.byMonthDay = value.split(',').map((d) => {
          const n = Number(d);
          if (!Number.isInteger(n) || n === 0 || n < -31 || n > 31)
            throw new Error(`BYMONTHDAY value ${d} is not a day of the month`);
          return n;
        });
        break;
      case 'COUNT':
        rule.count = Number(value);
        if (!Number.isInteger(rule.count) || rule.count < 1)
          throw new Error('COUNT must be a positive integer');
        break;
      case 'UNTIL': {
        const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(value);
        if (!m) throw new Error('UNTIL must look like 20261231T235959Z');
        rule.untilMs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 23), +(m[5] ?? 59), +(m[6] ?? 59));
        break;
      }
      case 'WKST':
        break;
      default:
        throw new Error(`${name} is not supported in RRULE`);
    }
  }
  if (!freq) throw new Error('RRULE needs FREQ');
  if (rule.count !== undefined && rule.untilMs !== undefined)
    throw new Error('RRULE cannot have both COUNT and UNTIL');
  return rule;
}

// ---- time-zone arithmetic with Intl (no tz database of our own) ----

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Local wall-clock fields of an instant in a zone. */
export function localParts(ms: number, timeZone: string) {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** The zone's UTC offset (ms, east positive) at an instant. */
export function offsetMs(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of a local wall time. A time skipped by a spring-forward gap is taken with the
 * offset before the gap (RFC 5545 3.3.5: 02:30 on that day becomes 03:30); an ambiguous autumn
 * time takes the first (daylight) occurrence.
 */
export function zonedToUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  const before = offsetMs(guess - 86_400_000 / 2, timeZone);
  const after = offsetMs(guess + 86_400_000 / 2, timeZone);
  const candidate = [guess - before, guess - after].find((t) => {
    const p = localParts(t, timeZone);
    return p.year === year && p.month === month && p.day === day && p.hour === hour && p.minute === minute;
  });
  return candidate ?? guess - before;
}

// ---- calendar helpers on plain dates (UTC-based day numbers, no zone) ----

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const dayNumber = (d: LocalDate) => Math.floor(Date.UTC(d.year, d.month - 1, d.day) / 86_400_000);
const fromDayNumber = (n: number): LocalDate => {
  const date = new Date(n * 86_400_000);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
};
/** 0 = Monday. */
const weekdayIndex = (n: number) => (((n + 3) % 7) + 7) % 7;
const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const isoDate = (d: LocalDate) =>
  `${d.year}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;

function matchesRule(rule: RRule, date: LocalDate, start: LocalDate): boolean {
  const n = dayNumber(date);
  const s = dayNumber(start);
  if (n < s) return false;
  const weekday = WEEKDAYS[weekdayIndex(n)]!;
  if (rule.freq === 'DAILY') {
    if ((n - s) % rule.interval !== 0) return false;
    return rule.byDay.length === 0 || rule.byDay.some((b) => b.day === weekday);
  }
  if (rule.freq === 'WEEKLY') {
    const weekOf = (x: number) => x - weekdayIndex(x);
    if (((weekOf(n) - weekOf(s)) / 7) % rule.interval !== 0) return false;
    const days = rule.byDay.length > 0 ? rule.byDay.map((b) => b.day) : [WEEKDAYS[weekdayIndex(s)]!];
    return days.includes(weekday);
  }
  // MONTHLY
  const months = (date.year - start.year) * 12 + (date.month - start.month);
  if (months % rule.interval !== 0) return false;
  const length = daysInMonth(date.year, date.month);
  if (rule.byMonthDay.length > 0) {
    return rule.byMonthDay.some((d) => (d > 0 ? d : length + d + 1) === date.day);
  }
  if (rule.byDay.length > 0) {
    return rule.byDay.some((b) => {
      if (b.day !== weekday) return false;
      if (b.ordinal === undefined) return true;
      const nth = Math.floor((date.day - 1) / 7) + 1;
      const nthFromEnd = Math.floor((length - date.day) / 7) + 1;
      return b.ordinal > 0 ? nth === b.ordinal : nthFromEnd === -b.ordinal;
    });
  }
  return date.day === start.day;
}

function parseLocal(text: string): { date: LocalDate; hour: number; minute: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(text);
  if (!m) throw new Error(`${text} is not a local date-time like 2026-12-01T10:00`);
  return { date: { year: +m[1]!, month: +m[2]!, day: +m[3]! }, hour: +m[4]!, minute: +m[5]! };
}

function parseClock(text: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(text);
  if (!m || +m[1]! > 24 || +m[2]! > 59) throw new Error(`${text} is not a time like 09:30`);
  return +m[1]! * 60 + +m[2]!;
}

/** Checks a schedule once, at the API boundary: a readable message for anything wrong. */
export function validateSchedule(schedule: Schedule): void {
  if (!isValidTimeZone(schedule.timezone)) throw new Error(`${schedule.timezone} is not an IANA time zone`);
  for (const d of schedule.blackoutDates ?? []) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) throw new Error(`blackout date ${d} is not like 2026-12-25`);
  }
  if (schedule.kind === 'recurring') {
    parseLocal(schedule.start);
    parseRRule(schedule.rrule);
  }
  if (schedule.kind === 'jit') {
    const from = parseClock(schedule.openingHours.from);
    const to = parseClock(schedule.openingHours.to);
    if (to <= from) throw new Error('opening hours must end after they start');
    if (!Number.isInteger(schedule.everyMinutes) || schedule.everyMinutes < 5) {
      throw new Error('everyMinutes must be a whole number of at least 5');
    }
  }
  if (schedule.kind === 'once' && Number.isNaN(Date.parse(schedule.startsAt))) {
    throw new Error('startsAt must be an ISO 8601 date-time');
  }
}

/**
 * Session start instants (ms) in [fromMs, toMs), ascending. On-demand schedules have no fixed
 * sessions (each viewer gets one on arrival).
 */
export function sessionStarts(schedule: Schedule, fromMs: number, toMs: number): number[] {
  const blackout = new Set(schedule.blackoutDates ?? []);
  const tz = schedule.timezone;
  const out: number[] = [];
  if (schedule.kind === 'on_demand') return out;
  if (schedule.kind === 'once') {
    const at = Date.parse(schedule.startsAt);
    return at >= fromMs && at < toMs && !blackout.has(isoDate(localParts(at, tz))) ? [at] : [];
  }
  if (schedule.kind === 'jit') {
    const from = parseClock(schedule.openingHours.from);
    const to = parseClock(schedule.openingHours.to);
    const days = schedule.openingHours.days;
    const first = dayNumber(localParts(fromMs, tz)) - 1;
    const last = dayNumber(localParts(toMs, tz)) + 1;
    for (let n = first; n <= last; n++) {
      const date = fromDayNumber(n);
      if (days && !days.includes(WEEKDAYS[weekdayIndex(n)]!)) continue;
      if (blackout.has(isoDate(date))) continue;
      for (let minute = from; minute < to; minute += schedule.everyMinutes) {
        const at = zonedToUtc(date.year, date.month, date.day, Math.floor(minute / 60), minute % 60, tz);
        if (at >= fromMs && at < toMs) out.push(at);
      }
    }
    return out;
  }
  const rule = parseRRule(schedule.rrule);
  const start = parseLocal(schedule.start);
  const s = dayNumber(start.date);
  // COUNT counts from DTSTART, so walk from there; the horizon bounds the walk.
  const lastDay = dayNumber(localParts(toMs, tz)) + 1;
  let count = 0;
  for (let n = s; n <= lastDay; n++) {
    const date = fromDayNumber(n);
    if (!matchesRule(rule, date, start.date)) continue;
    const at = zonedToUtc(date.year, date.month, date.day, start.hour, start.minute, tz);
    if (rule.untilMs !== undefined && at > rule.untilMs) break;
    count += 1;
    if (rule.count !== undefined && count > rule.count) break;
    if (at >= fromMs && at < toMs && !blackout.has(isoDate(date))) out.push(at);
  }
  return out;
}

/** Whether `atMs` is a session start of the schedule (what a registration for it must name). */
export function isSessionStart(schedule: Schedule, atMs: number): boolean {
  return sessionStarts(schedule, atMs, atMs + 1).includes(atMs);
}
