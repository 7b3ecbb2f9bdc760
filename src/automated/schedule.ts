/**
 * When an automated webinar airs. Pure: a schedule and a time range in, session start instants out.
 *
 * Times are wall-clock times in the event's IANA time zone, turned into UTC instants per date, so
 * a 10:00 session stays at 10:00 local across daylight-saving changes. Recurrence is the RFC 5545
 * RRULE subset marketers use: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, BYDAY (with ordinals for
 * MONTHLY, e.g. 2TU or -1FR), BYMONTHDAY, COUNT, UNTIL, WKST.
 *
 * Sessions are enumerated lazily and in order (`eachSessionStart`), so asking for the next few
 * costs a few: dates are walked with plain day arithmetic, and the time-zone lookups (Intl, the
 * expensive part) run only for days that can hold a session in the asked range.
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
  /** First day of the week (RFC 5545 3.3.10, default MO): decides which weeks INTERVAL keeps. */
  wkst: Weekday;
}

/**
 * What `validateSchedule` accepts. Policy, not RFC: each bound keeps one schedule's cost and
 * output sane (a year range a webinar platform can mean, a series that ends within it).
 */
export const SCHEDULE_LIMITS = {
  maxInterval: 1000,
  maxCount: 10_000,
  /** Seven weekdays times the five ordinals a month can hold. */
  maxByDay: 35,
  maxByMonthDay: 31,
  minYear: 2000,
  maxYear: 2100,
  maxRRuleLength: 300,
  maxBlackoutDates: 366,
  maxEveryMinutes: 24 * 60,
} as const;

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

// ---- parsing (strict: a wall time or date that does not exist is an error, never moved) ----

/** A trimmed copy of user input for a message, so a huge value does not make a huge error. */
const shown = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

function positiveInteger(name: string, value: string): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : 0;
  if (n < 1) throw new Error(`${name} must be a positive whole number like 2, not "${shown(value)}"`);
  return n;
}

/** Parses the supported RRULE subset; throws a message fit for an API error. */
export function parseRRule(text: string): RRule {
  const rule: RRule = { freq: 'WEEKLY', interval: 1, byDay: [], byMonthDay: [], wkst: 'MO' };
  const seen = new Set<string>();
  for (const part of text.replace(/^RRULE:/i, '').split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? '' : part.slice(eq + 1);
    // RFC 5545 3.3.10: a rule part MUST NOT occur more than once.
    if (seen.has(name)) throw new Error(`${shown(name)} appears twice in RRULE: keep one`);
    seen.add(name);
    switch (name) {
      case 'FREQ': {
        const freq = value.toUpperCase();
        if (freq !== 'DAILY' && freq !== 'WEEKLY' && freq !== 'MONTHLY') {
          throw new Error(`FREQ=${shown(value)} is not supported (DAILY, WEEKLY or MONTHLY)`);
        }
        rule.freq = freq;
        break;
      }
      case 'INTERVAL':
        rule.interval = positiveInteger('INTERVAL', value);
        break;
      case 'BYDAY':
        rule.byDay = value.split(',').map((d) => {
          const m = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/i.exec(d.trim());
          if (!m) throw new Error(`BYDAY value ${shown(d)} is not a weekday like MO or 2TU`);
          return { day: m[2]!.toUpperCase() as Weekday, ...(m[1] ? { ordinal: Number(m[1]) } : {}) };
        });
        break;
      case 'BYMONTHDAY':
        rule.byMonthDay = value.split(',').map((d) => {
          const n = /^[+-]?\d{1,2}$/.test(d.trim()) ? Number(d) : 0;
          if (n === 0 || n < -31 || n > 31)
            throw new Error(`BYMONTHDAY value ${shown(d)} is not a day of the month (1 to 31, or -1 to -31)`);
          return n;
        });
        break;
      case 'COUNT':
        rule.count = positiveInteger('COUNT', value);
        break;
      case 'UNTIL': {
        const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(value);
        if (!m) throw new Error('UNTIL must look like 20261231T235959Z');
        checkDate(+m[1]!, +m[2]!, +m[3]!, `UNTIL=${value}`);
        // RFC 5545 3.3.12: seconds run to 60 for a leap second.
        if (+(m[4] ?? 0) > 23 || +(m[5] ?? 0) > 59 || +(m[6] ?? 0) > 60)
          throw new Error(`UNTIL=${value} is not a real time of day (hours 00 to 23, minutes 00 to 59)`);
        rule.untilMs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 23), +(m[5] ?? 59), +(m[6] ?? 59));
        break;
      }
      case 'WKST': {
        const day = value.toUpperCase() as Weekday;
        if (!WEEKDAYS.includes(day))
          throw new Error(`WKST=${shown(value)} is not a weekday (MO, TU, WE, TH, FR, SA or SU)`);
        rule.wkst = day;
        break;
      }
      default:
        throw new Error(`${shown(name)} is not supported in RRULE`);
    }
  }
  if (!seen.has('FREQ')) throw new Error('RRULE needs FREQ');
  if (rule.count !== undefined && rule.untilMs !== undefined)
    throw new Error('RRULE cannot have both COUNT and UNTIL');
  for (const b of rule.byDay) {
    if (b.ordinal === undefined) continue;
    // RFC 5545 3.3.10: a numeric BYDAY only with FREQ=MONTHLY (or YEARLY, not supported here).
    if (rule.freq !== 'MONTHLY')
      throw new Error(
        `BYDAY=${b.ordinal}${b.day} needs FREQ=MONTHLY; with FREQ=${rule.freq} write BYDAY=${b.day}`,
      );
    if (b.ordinal === 0 || b.ordinal < -5 || b.ordinal > 5)
      throw new Error(
        `BYDAY=${b.ordinal}${b.day}: a month has at most five of each weekday, use 1 to 5 or -1 to -5`,
      );
  }
  // RFC 5545 3.3.10: "The BYMONTHDAY rule part MUST NOT be specified when the FREQ rule part is set to WEEKLY."
  if (rule.freq === 'WEEKLY' && rule.byMonthDay.length > 0)
    throw new Error('BYMONTHDAY cannot be used with FREQ=WEEKLY: use FREQ=MONTHLY or FREQ=DAILY');
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
    // Keyed by the text given (case variants of one zone are separate keys): bounded.
    if (formatters.size > 1000) formatters.clear();
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
  const before = offsetMs(guess - DAY_MS / 2, timeZone);
  const after = offsetMs(guess + DAY_MS / 2, timeZone);
  // No change within 12 hours either side: the wall time exists exactly once. (Both candidates
  // below would be this one; skipping the check saves Intl calls, the costly part.)
  if (before === after) return guess - before;
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

const dayNumber = (d: LocalDate) => Math.floor(Date.UTC(d.year, d.month - 1, d.day) / DAY_MS);
const fromDayNumber = (n: number): LocalDate => {
  const date = new Date(n * DAY_MS);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
};
/** 0 = Monday. */
const weekdayIndex = (n: number) => (((n + 3) % 7) + 7) % 7;
const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** Throws unless the date exists (no 30 February, no month 13). */
function checkDate(year: number, month: number, day: number, text: string): LocalDate {
  if (month < 1 || month > 12) throw new Error(`${shown(text)}: there is no month ${month} (01 to 12)`);
  const length = daysInMonth(year, month);
  if (day < 1 || day > length)
    throw new Error(
      `${shown(text)} is not a real date: ${year}-${String(month).padStart(2, '0')} has ${length} days`,
    );
  return { year, month, day };
}

/** `YYYY-MM-DD`, a date that exists. */
function parseDate(text: string, what: string): LocalDate {
  const m = text.length <= 10 ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) : null;
  if (!m) throw new Error(`${what} ${shown(text)} is not a date like 2026-12-25`);
  return checkDate(+m[1]!, +m[2]!, +m[3]!, `${what} ${text}`);
}

/** `HH:MM` as minutes of the day; `24:00` (the end of the day) only where `endOfDay` allows it. */
function parseClock(text: string, what: string, endOfDay: boolean): number {
  const m = text.length <= 5 ? /^(\d{2}):(\d{2})$/.exec(text) : null;
  if (!m) throw new Error(`${what} ${shown(text)} is not a time like 09:30`);
  if (endOfDay && text === '24:00') return 24 * 60;
  if (+m[1]! > 23 || +m[2]! > 59)
    throw new Error(
      `${what} ${text} is not a real time of day: hours run 00 to 23 and minutes 00 to 59${endOfDay ? ' (or 24:00 for midnight at the end of the day)' : ''}`,
    );
  return +m[1]! * 60 + +m[2]!;
}

/** DTSTART as a local date and minute of the day, `YYYY-MM-DDTHH:MM`. */
function parseLocal(text: string): { date: LocalDate; minute: number } {
  const m = text.length <= 16 ? /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})$/.exec(text) : null;
  if (!m) throw new Error(`start ${shown(text)} is not a local date-time like 2026-12-01T10:00`);
  return { date: parseDate(m[1]!, 'start'), minute: parseClock(m[2]!, 'start', false) };
}

function blackoutDays(dates: readonly string[] | undefined): Set<number> {
  return new Set((dates ?? []).map((d) => dayNumber(parseDate(d, 'blackout date'))));
}

function checkYear(year: number, what: string): void {
  if (year < SCHEDULE_LIMITS.minYear || year > SCHEDULE_LIMITS.maxYear)
    throw new Error(
      `${what} must be in the years ${SCHEDULE_LIMITS.minYear} to ${SCHEDULE_LIMITS.maxYear}, not ${year}`,
    );
}

/** Checks a schedule once, at the API boundary: a readable message for anything wrong. */
export function validateSchedule(schedule: Schedule): void {
  if (schedule.timezone.length > 64 || !isValidTimeZone(schedule.timezone))
    throw new Error(`${shown(schedule.timezone)} is not an IANA time zone like Europe/Rome`);
  const blackout = schedule.blackoutDates ?? [];
  if (blackout.length > SCHEDULE_LIMITS.maxBlackoutDates)
    throw new Error(`at most ${SCHEDULE_LIMITS.maxBlackoutDates} blackout dates`);
  blackoutDays(blackout);
  if (schedule.kind === 'recurring') {
    if (schedule.rrule.length > SCHEDULE_LIMITS.maxRRuleLength)
      throw new Error(`rrule must be at most ${SCHEDULE_LIMITS.maxRRuleLength} characters`);
    checkYear(parseLocal(schedule.start).date.year, 'start');
    const rule = parseRRule(schedule.rrule);
    const { maxInterval, maxCount, maxByDay, maxByMonthDay } = SCHEDULE_LIMITS;
    if (rule.interval > maxInterval) throw new Error(`INTERVAL must be at most ${maxInterval}`);
    if (rule.count !== undefined && rule.count > maxCount)
      throw new Error(`COUNT must be at most ${maxCount}; for a longer series use UNTIL`);
    if (rule.byDay.length > maxByDay) throw new Error(`BYDAY lists at most ${maxByDay} days`);
    if (rule.byMonthDay.length > maxByMonthDay)
      throw new Error(`BYMONTHDAY lists at most ${maxByMonthDay} days`);
    if (rule.untilMs !== undefined) checkYear(new Date(rule.untilMs).getUTCFullYear(), 'UNTIL');
  }
  if (schedule.kind === 'jit') {
    const from = parseClock(schedule.openingHours.from, 'opening hours from', true);
    const to = parseClock(schedule.openingHours.to, 'opening hours to', true);
    if (to <= from) throw new Error('opening hours must end after they start');
    const every = schedule.everyMinutes;
    if (!Number.isInteger(every) || every < 5 || every > SCHEDULE_LIMITS.maxEveryMinutes) {
      throw new Error(`everyMinutes must be a whole number from 5 to ${SCHEDULE_LIMITS.maxEveryMinutes}`);
    }
    const days = schedule.openingHours.days;
    if (days && (days.length === 0 || days.length > 7 || days.some((d) => !WEEKDAYS.includes(d))))
      throw new Error(
        'opening days must list one to seven weekdays (MO to SU), or be left out for every day',
      );
  }
  if (schedule.kind === 'once') {
    const m =
      schedule.startsAt.length <= 40
        ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/i.exec(
            schedule.startsAt,
          )
        : null;
    if (!m)
      throw new Error('startsAt must be an ISO 8601 date-time with an offset, like 2026-12-01T10:00:00Z');
    // Date.parse would roll 30 February over into March: check the fields first.
    checkDate(+m[1]!, +m[2]!, +m[3]!, `startsAt ${schedule.startsAt}`);
    if (+m[4]! > 23 || +m[5]! > 59 || +(m[6] ?? 0) > 59 || +(m[7] ?? 0) > 23 || +(m[8] ?? 0) > 59)
      throw new Error(`startsAt ${shown(schedule.startsAt)} is not a real time of day (00:00 to 23:59)`);
    checkYear(+m[1]!, 'startsAt');
  }
}

// ---- enumeration ----

/**
 * Furthest a local wall time lies from its UTC instant when read as UTC: offsets run from UTC-12
 * to UTC+14, and a gap can push a time on by up to a day (Pacific/Apia skipped 30 December 2011).
 * Days further than this from a range cannot hold a session in it, so they cost no Intl call.
 */
const ZONE_SLACK_MS = 2 * DAY_MS;

/** Days in a progression `start + k * step` from the first at or after `from`. */
const firstInStep = (start: number, step: number, from: number) =>
  start + Math.max(0, Math.ceil((from - start) / step)) * step;

/** Days of one month a MONTHLY rule expands to, ascending (RFC 5545 3.3.10 table, note 1). */
function monthDays(rule: RRule, startDay: number, year: number, month: number): number[] {
  const length = daysInMonth(year, month);
  const firstWeekday = weekdayIndex(dayNumber({ year, month, day: 1 }));
  const byDayMatches = (day: number) =>
    rule.byDay.some((b) => {
      if (WEEKDAYS.indexOf(b.day) !== (firstWeekday + day - 1) % 7) return false;
      if (b.ordinal === undefined) return true;
      // 2TU: the second Tuesday of the month; -1FR: its last Friday.
      return b.ordinal > 0
        ? Math.floor((day - 1) / 7) + 1 === b.ordinal
        : Math.floor((length - day) / 7) + 1 === -b.ordinal;
    });
  if (rule.byMonthDay.length > 0) {
    // BYMONTHDAY expands; a day the month lacks (31 in April) is no occurrence (RFC 5545 3.3.10).
    const days = [...new Set(rule.byMonthDay.map((d) => (d > 0 ? d : length + d + 1)))]
      .filter((d) => d >= 1 && d <= length)
      .sort((a, b) => a - b);
    // With BYMONTHDAY present, BYDAY limits instead of expanding: both must match.
    return rule.byDay.length > 0 ? days.filter(byDayMatches) : days;
  }
  if (rule.byDay.length > 0) return Array.from({ length }, (_, i) => i + 1).filter(byDayMatches);
  return startDay <= length ? [startDay] : [];
}

/**
 * Day numbers the rule produces in [max(DTSTART, firstDay), lastDay], ascending, without time
 * zones. Each FREQ jumps straight to the first period (day, week, month) that can reach firstDay.
 */
function* ruleDays(rule: RRule, start: LocalDate, firstDay: number, lastDay: number): Generator<number> {
  const s = dayNumber(start);
  const from = Math.max(s, firstDay);
  const weekdays = new Set(rule.byDay.map((b) => WEEKDAYS.indexOf(b.day)));
  if (rule.freq === 'DAILY') {
    // BYDAY and BYMONTHDAY both limit a DAILY rule (RFC 5545 3.3.10 table).
    for (let n = firstInStep(s, rule.interval, from); n <= lastDay; n += rule.interval) {
      if (weekdays.size > 0 && !weekdays.has(weekdayIndex(n))) continue;
      if (rule.byMonthDay.length > 0) {
        const { year, month, day } = fromDayNumber(n);
        const length = daysInMonth(year, month);
        if (!rule.byMonthDay.some((d) => (d > 0 ? d : length + d + 1) === day)) continue;
      }
      yield n;
    }
    return;
  }
  if (rule.freq === 'WEEKLY') {
    // Weeks begin on WKST; INTERVAL counts those weeks from DTSTART's (RFC 5545 3.3.10 WKST: with
    // INTERVAL=2;BYDAY=TU,SU, WKST=MO and WKST=SU pair different Sundays with each Tuesday).
    const wkst = WEEKDAYS.indexOf(rule.wkst);
    const weekStart = (n: number) => n - ((weekdayIndex(n) - wkst + 7) % 7);
    const days = weekdays.size > 0 ? [...weekdays] : [weekdayIndex(s)];
    const offsets = days.map((d) => (d - wkst + 7) % 7).sort((a, b) => a - b);
    const step = 7 * rule.interval;
    for (let w = firstInStep(weekStart(s), step, weekStart(from)); w <= lastDay; w += step) {
      for (const offset of offsets) {
        const n = w + offset;
        if (n > lastDay) return;
        if (n >= from) yield n;
      }
    }
    return;
  }
  const startMonth = start.year * 12 + start.month - 1;
  const f = fromDayNumber(from);
  for (let m = firstInStep(startMonth, rule.interval, f.year * 12 + f.month - 1); ; m += rule.interval) {
    const year = Math.floor(m / 12);
    const month = (m % 12) + 1;
    const first = dayNumber({ year, month, day: 1 });
    if (first > lastDay) return;
    for (const day of monthDays(rule, start.day, year, month)) {
      const n = first + day - 1;
      if (n > lastDay) return;
      if (n >= from) yield n;
    }
  }
}

/**
 * Session instants of one local day at the given minutes (ascending), those in [fromMs, toMs),
 * ascending. Two Intl calls decide whether a change is near: if not, every time is arithmetic.
 */
function* startsOnDay(
  n: number,
  minutes: readonly number[],
  timeZone: string,
  fromMs: number,
  toMs: number,
): Generator<number> {
  const midnight = n * DAY_MS; // the day's wall clock read as UTC
  // zonedToUtc reads the offset 12 hours either side of a wall time; for this day's times those
  // reads fall within these two instants. Equal offsets there: no change (zones do not change and
  // change back within two days), so zonedToUtc would give wall - offset for each time.
  const early = offsetMs(midnight - DAY_MS / 2, timeZone);
  const late = offsetMs(midnight + DAY_MS + DAY_MS / 2, timeZone);
  if (early === late) {
    for (const minute of minutes) {
      const at = midnight + minute * MINUTE_MS - early;
      if (at >= toMs) return;
      if (at >= fromMs) yield at;
    }
    return;
  }
  // A day near a change. Times in a spring-forward gap move on (RFC 5545 3.3.5) past times after
  // the gap, so instants can come out of order: hold each until no later time can precede it.
  const highest = Math.max(early, late);
  const lowest = Math.min(early, late);
  const date = fromDayNumber(n);
  const pending: number[] = [];
  for (const minute of minutes) {
    const wall = midnight + minute * MINUTE_MS;
    pending.sort((a, b) => a - b);
    while (pending.length > 0 && pending[0]! < wall - highest) yield pending.shift()!;
    if (wall - highest >= toMs) break;
    if (wall - lowest < fromMs) continue;
    const at = zonedToUtc(date.year, date.month, date.day, Math.floor(minute / 60), minute % 60, timeZone);
    if (at >= fromMs && at < toMs) pending.push(at);
  }
  yield* pending.sort((a, b) => a - b);
}

/** Session instants on the given days (ascending day numbers) in [fromMs, toMs): ascending, each once. */
function* startsOnDays(
  days: Iterable<number>,
  minutes: readonly number[],
  timeZone: string,
  fromMs: number,
  toMs: number,
): Generator<number> {
  if (!(fromMs < toMs) || minutes.length === 0) return;
  const firstMinute = minutes[0]!;
  const lastMinute = minutes[minutes.length - 1]!;
  let last = -Infinity;
  for (const n of days) {
    const midnight = n * DAY_MS;
    if (midnight + lastMinute * MINUTE_MS + ZONE_SLACK_MS < fromMs) continue;
    if (midnight + firstMinute * MINUTE_MS - ZONE_SLACK_MS >= toMs) return;
    for (const at of startsOnDay(n, minutes, timeZone, fromMs, toMs)) {
      // A gap can map two wall times to one instant (02:30 and 03:30 on spring-forward day): one session.
      if (at > last) {
        last = at;
        yield at;
      }
    }
  }
}

/**
 * Session start instants (ms) in [fromMs, toMs), ascending, computed as they are consumed: take
 * the first few and the work is a few days' worth. On-demand schedules have no fixed sessions
 * (each viewer gets one on arrival). Throws on a schedule `validateSchedule` would refuse for its
 * form (an impossible date, an RRULE the RFC forbids).
 */
export function* eachSessionStart(schedule: Schedule, fromMs: number, toMs: number): Generator<number> {
  if (!(fromMs < toMs)) return;
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs))
    throw new RangeError('session starts are listed over a finite time range');
  const tz = schedule.timezone;
  const blackout = blackoutDays(schedule.blackoutDates);
  // The first and last day whose wall times can land in the range.
  const firstDay = Math.floor((fromMs - ZONE_SLACK_MS) / DAY_MS);
  const lastDay = Math.floor((toMs + ZONE_SLACK_MS) / DAY_MS);
  switch (schedule.kind) {
    case 'on_demand':
      return;
    case 'once': {
      const at = Date.parse(schedule.startsAt);
      if (at >= fromMs && at < toMs && !blackout.has(dayNumber(localParts(at, tz)))) yield at;
      return;
    }
    case 'jit': {
      const open = parseClock(schedule.openingHours.from, 'opening hours from', true);
      const close = parseClock(schedule.openingHours.to, 'opening hours to', true);
      const every = Math.max(5, schedule.everyMinutes);
      const minutes: number[] = [];
      for (let minute = open; minute < close; minute += every) minutes.push(minute);
      const openDays = schedule.openingHours.days;
      const weekdays = openDays ? new Set(openDays.map((d) => WEEKDAYS.indexOf(d))) : undefined;
      const days = function* () {
        for (let n = firstDay; n <= lastDay; n++) {
          if ((!weekdays || weekdays.has(weekdayIndex(n))) && !blackout.has(n)) yield n;
        }
      };
      yield* startsOnDays(days(), minutes, tz, fromMs, toMs);
      return;
    }
    case 'recurring': {
      const rule = parseRRule(schedule.rrule);
      const start = parseLocal(schedule.start);
      const count = rule.count;
      const days = function* () {
        if (count === undefined) {
          for (const n of ruleDays(rule, start.date, firstDay, lastDay)) if (!blackout.has(n)) yield n;
          return;
        }
        // COUNT counts occurrences from DTSTART (RFC 5545 3.3.10), so walk from there; before the
        // range that is date arithmetic only, and the walk ends with the series.
        let seen = 0;
        for (const n of ruleDays(rule, start.date, dayNumber(start.date), lastDay)) {
          seen += 1;
          if (seen > count) return;
          // A blacked-out date cancels its session but stays one of the COUNT.
          if (n >= firstDay && !blackout.has(n)) yield n;
        }
      };
      // UNTIL is inclusive (RFC 5545 3.3.10).
      const endMs = rule.untilMs === undefined ? toMs : Math.min(toMs, rule.untilMs + 1);
      yield* startsOnDays(days(), [start.minute], tz, fromMs, endMs);
      return;
    }
  }
}

/**
 * Session start instants (ms) in [fromMs, toMs), ascending; at most `limit` of them, and the work
 * done is proportional to what is returned. Pass a limit whenever only the first few matter.
 */
export function sessionStarts(schedule: Schedule, fromMs: number, toMs: number, limit = Infinity): number[] {
  const out: number[] = [];
  if (limit < 1) return out;
  for (const at of eachSessionStart(schedule, fromMs, toMs)) {
    out.push(at);
    if (out.length >= limit) break;
  }
  return out;
}

/** Whether `atMs` is a session start of the schedule (what a registration for it must name). */
export function isSessionStart(schedule: Schedule, atMs: number): boolean {
  return sessionStarts(schedule, atMs, atMs + 1, 1)[0] === atMs;
}
