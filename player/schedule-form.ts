/**
 * The Schedule panel's form as plain data, and the two ways between it and the API's schedule.
 * Pure (Intl only): `buildSchedule` makes the one object the panel both previews and saves, and
 * `formFromSchedule` fills the form from a saved schedule. A saved rule the form cannot show
 * exactly (a DAILY rule, WKST with an INTERVAL, a fifth Tuesday) opens as a custom RRULE, so
 * opening a schedule and saving it unchanged never changes when it airs.
 *
 * Time-zone arithmetic and RRULE parsing come from the schedule core the server runs
 * (src/automated/schedule.ts), not a second implementation.
 */
import {
  localParts,
  parseRRule,
  WEEKDAYS,
  zonedToUtc,
  type RRule,
  type Schedule,
  type Weekday,
} from '../src/automated/schedule.ts';
import { formatDateTime } from '../src/i18n/dates.ts';

export type Repeat = 'once' | 'weekly' | 'monthly' | 'rrule' | 'jit' | 'on_demand';
export type Ends = 'never' | 'count' | 'until';

/** The ordinals the monthly "the first … last Tuesday" choice offers. */
export const MONTH_ORDINALS = [1, 2, 3, 4, -1] as const;

export interface ScheduleForm {
  repeat: Repeat;
  /** IANA time zone the dates and times below are in. */
  timezone: string;
  /** `YYYY-MM-DD`: the day of a one-off session, or the first day of a recurring one. */
  date: string;
  /** `HH:MM`, local. */
  time: string;
  /** Weekly: the days, in WEEKDAYS order. */
  weekdays: Weekday[];
  /** Every N weeks (weekly) or months (monthly). */
  interval: number;
  monthlyBy: 'day' | 'weekday';
  /** 1 to 31, or -1 for the last day of the month. */
  monthDay: number;
  /** 1 to 4, or -1 for the last one. */
  monthOrdinal: number;
  monthWeekday: Weekday;
  ends: Ends;
  /** Ends after this many sessions. */
  count: number;
  /** Ends on this local date (`YYYY-MM-DD`), its sessions included. */
  until: string;
  /** A custom RFC 5545 RRULE (repeat `rrule`). */
  rrule: string;
  everyMinutes: number;
  openFrom: string;
  /** `HH:MM`; `00:00` closes at midnight at the end of the day (the API's `24:00`). */
  openTo: string;
  openDays: Weekday[];
  /** `YYYY-MM-DD`, ascending, each once. */
  blackoutDates: string[];
  replayDays: number;
}

export const DEFAULT_REPLAY_DAYS = 7;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The local date (`YYYY-MM-DD`) and time (`HH:MM`) of an instant in a zone. */
export function localDateTime(ms: number, timeZone: string): { date: string; time: string } {
  const p = localParts(ms, timeZone);
  return {
    date: `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`,
    time: `${pad(p.hour)}:${pad(p.minute)}`,
  };
}

/** The weekday of a calendar date (`YYYY-MM-DD`), no zone involved. */
export function weekdayOf(date: string): Weekday {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  // getUTCDay: 0 = Sunday; WEEKDAYS starts on Monday.
  return WEEKDAYS[(new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7]!;
}

const sortedDays = (days: Iterable<Weekday>) => WEEKDAYS.filter((d) => new Set(days).has(d));

/** A new form, for a webinar with no schedule yet: weekly on today's weekday at 10:00. */
export function defaultForm(timezone: string, nowMs: number): ScheduleForm {
  const today = localDateTime(nowMs, timezone).date;
  return {
    repeat: 'weekly',
    timezone,
    date: today,
    time: '10:00',
    weekdays: [weekdayOf(today)],
    interval: 1,
    monthlyBy: 'day',
    monthDay: Number(today.slice(8, 10)),
    monthOrdinal: 1,
    monthWeekday: weekdayOf(today),
    ends: 'never',
    count: 10,
    until: '',
    rrule: 'FREQ=WEEKLY;BYDAY=TU',
    everyMinutes: 15,
    openFrom: '09:00',
    openTo: '17:00',
    openDays: [...WEEKDAYS],
    blackoutDates: [],
    replayDays: DEFAULT_REPLAY_DAYS,
  };
}

// ---- form → schedule ----

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CLOCK = /^\d{2}:\d{2}$/;

function need(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

function wholeNumber(value: number, what: string, min: number, max: number): number {
  need(
    Number.isInteger(value) && value >= min && value <= max,
    `${what} must be a whole number from ${min} to ${max}`,
  );
  return value;
}

/** The last second of a local date in a zone, as a UTC instant (ms). */
function endOfDayMs(date: string, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return zonedToUtc(y, m, d, 23, 59, timeZone) + 59_000;
}

/** UNTIL for the end of a local date, in UTC (RFC 5545 3.3.10: UNTIL is UTC when DTSTART has a zone). */
export function untilOf(date: string, timeZone: string): string {
  const at = new Date(endOfDayMs(date, timeZone));
  return (
    `${pad(at.getUTCFullYear(), 4)}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}` +
    `T${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}Z`
  );
}

function endsPart(form: ScheduleForm): string {
  if (form.ends === 'count') return `;COUNT=${wholeNumber(form.count, 'The number of sessions', 1, 10_000)}`;
  if (form.ends === 'until') {
    need(DATE.test(form.until), 'Choose the last date, or let the series run on');
    need(form.until >= form.date, 'The last date must not be before the first');
    return `;UNTIL=${untilOf(form.until, form.timezone)}`;
  }
  return '';
}

/** The RRULE of a weekly or monthly form. */
export function rruleOf(form: ScheduleForm): string {
  const every = (unit: string, max: number) => {
    const n = wholeNumber(form.interval, `The number of ${unit}`, 1, max);
    return n > 1 ? `;INTERVAL=${n}` : '';
  };
  if (form.repeat === 'weekly') {
    need(form.weekdays.length > 0, 'Choose at least one weekday');
    return `FREQ=WEEKLY${every('weeks', 52)};BYDAY=${sortedDays(form.weekdays).join(',')}${endsPart(form)}`;
  }
  const on =
    form.monthlyBy === 'day'
      ? `BYMONTHDAY=${form.monthDay}`
      : `BYDAY=${form.monthOrdinal}${form.monthWeekday}`;
  return `FREQ=MONTHLY${every('months', 12)};${on}${endsPart(form)}`;
}

/**
 * The schedule the API takes, from the form; throws an Error whose message says what to fill in.
 * Deeper rules (a real zone, a valid RRULE, dates in range) are the server's: the preview shows
 * its message.
 */
export function buildSchedule(form: ScheduleForm): Schedule {
  need(form.timezone.length > 0, 'Choose a time zone');
  const base = {
    timezone: form.timezone,
    ...(form.repeat !== 'on_demand' && form.blackoutDates.length > 0
      ? { blackoutDates: [...form.blackoutDates] }
      : {}),
    replayDays: wholeNumber(form.replayDays, 'Replay days', 0, 365),
  };
  if (form.repeat !== 'jit' && form.repeat !== 'on_demand') {
    need(DATE.test(form.date), form.repeat === 'once' ? 'Choose the date' : 'Choose the first date');
    need(CLOCK.test(form.time), 'Choose the time');
  }
  const start = `${form.date}T${form.time}`;
  switch (form.repeat) {
    case 'once': {
      const [y, m, d] = form.date.split('-').map(Number) as [number, number, number];
      const [hh, mm] = form.time.split(':').map(Number) as [number, number];
      let at: number;
      try {
        at = zonedToUtc(y, m, d, hh, mm, form.timezone);
      } catch {
        throw new Error(`${form.timezone} is not a time zone this browser knows`);
      }
      const startsAt = new Date(at).toISOString().replace('.000Z', 'Z');
      return { kind: 'once', startsAt, ...base };
    }
    case 'weekly':
    case 'monthly':
      return { kind: 'recurring', start, rrule: rruleOf(form), ...base };
    case 'rrule':
      need(form.rrule.trim().length > 0, 'Write the rule, like FREQ=WEEKLY;BYDAY=TU,TH');
      return { kind: 'recurring', start, rrule: form.rrule.trim(), ...base };
    case 'jit': {
      need(CLOCK.test(form.openFrom) && CLOCK.test(form.openTo), 'Choose the opening hours');
      need(form.openDays.length > 0, 'Choose at least one opening day');
      const days = sortedDays(form.openDays);
      return {
        kind: 'jit',
        everyMinutes: wholeNumber(form.everyMinutes, 'Minutes between sessions', 5, 24 * 60),
        openingHours: {
          from: form.openFrom,
          // A time field cannot say 24:00: closing at 00:00 means at the end of the day.
          to: form.openTo === '00:00' ? '24:00' : form.openTo,
          // Every day is the API's default: leave the list out.
          ...(days.length < 7 ? { days } : {}),
        },
        ...base,
      };
    }
    case 'on_demand':
      return { kind: 'on_demand', ...base };
  }
}

// ---- schedule → form ----

/** What of a recurring rule the weekly and monthly choices can show exactly, if anything. */
function recurringForm(rule: RRule, form: ScheduleForm): Partial<ScheduleForm> | undefined {
  let ends: Partial<ScheduleForm> = { ends: 'never' };
  if (rule.count !== undefined) ends = { ends: 'count', count: rule.count };
  if (rule.untilMs !== undefined) {
    const until = localDateTime(rule.untilMs, form.timezone).date;
    // Only an UNTIL at the end of a local day, as the form writes it, reads back as a date.
    if (endOfDayMs(until, form.timezone) !== rule.untilMs) return undefined;
    ends = { ends: 'until', until };
  }
  const interval = { interval: rule.interval };
  if (rule.freq === 'WEEKLY') {
    if (rule.byDay.some((b) => b.ordinal !== undefined)) return undefined;
    // WKST decides which weeks an INTERVAL keeps; the form writes the default (MO).
    if (rule.interval > 1 && rule.wkst !== 'MO') return undefined;
    if (rule.interval > 52) return undefined;
    // No BYDAY: the weekday of the first date (RFC 5545 3.3.10).
    const weekdays =
      rule.byDay.length > 0 ? sortedDays(rule.byDay.map((b) => b.day)) : [weekdayOf(form.date)];
    return { repeat: 'weekly', weekdays, ...interval, ...ends };
  }
  if (rule.freq === 'MONTHLY' && rule.interval <= 12) {
    if (rule.byDay.length === 0 && rule.byMonthDay.length <= 1) {
      const day = rule.byMonthDay[0] ?? Number(form.date.slice(8, 10));
      if (day < 1 && day !== -1) return undefined;
      return { repeat: 'monthly', monthlyBy: 'day', monthDay: day, ...interval, ...ends };
    }
    const [only] = rule.byDay;
    if (
      rule.byMonthDay.length === 0 &&
      rule.byDay.length === 1 &&
      only!.ordinal !== undefined &&
      (MONTH_ORDINALS as readonly number[]).includes(only!.ordinal)
    )
      return {
        repeat: 'monthly',
        monthlyBy: 'weekday',
        monthOrdinal: only!.ordinal,
        monthWeekday: only!.day,
        ...interval,
        ...ends,
      };
  }
  return undefined;
}

/** The form showing `schedule` (a new one, `defaultForm`, when there is none). */
export function formFromSchedule(
  schedule: Schedule | null | undefined,
  fallbackZone: string,
  nowMs: number,
): ScheduleForm {
  if (!schedule) return defaultForm(fallbackZone, nowMs);
  const form: ScheduleForm = {
    ...defaultForm(schedule.timezone, nowMs),
    blackoutDates: normaliseDates(schedule.blackoutDates ?? []),
    replayDays: schedule.replayDays ?? DEFAULT_REPLAY_DAYS,
  };
  switch (schedule.kind) {
    case 'once':
      return { ...form, repeat: 'once', ...localDateTime(Date.parse(schedule.startsAt), schedule.timezone) };
    case 'on_demand':
      return { ...form, repeat: 'on_demand' };
    case 'jit':
      return {
        ...form,
        repeat: 'jit',
        everyMinutes: schedule.everyMinutes,
        openFrom: schedule.openingHours.from,
        openTo: schedule.openingHours.to === '24:00' ? '00:00' : schedule.openingHours.to,
        openDays: schedule.openingHours.days ? sortedDays(schedule.openingHours.days) : [...WEEKDAYS],
      };
    case 'recurring': {
      const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})$/.exec(schedule.start);
      const dated = m ? { ...form, date: m[1]!, time: m[2]! } : form;
      const custom: ScheduleForm = { ...dated, repeat: 'rrule', rrule: schedule.rrule };
      if (!m) return custom;
      let rule: RRule;
      try {
        rule = parseRRule(schedule.rrule);
      } catch {
        return custom;
      }
      const shown = recurringForm(rule, dated);
      return shown ? { ...dated, ...shown } : custom;
    }
  }
}

// ---- blackout dates ----

/** Dates ascending, each once. */
export function normaliseDates(dates: readonly string[]): string[] {
  return [...new Set(dates)].sort();
}

/** The list with `date` added (a date field's `YYYY-MM-DD`); unchanged for an empty or malformed one. */
export function addBlackoutDate(dates: readonly string[], date: string): string[] {
  return DATE.test(date) ? normaliseDates([...dates, date]) : [...dates];
}

export function removeBlackoutDate(dates: readonly string[], date: string): string[] {
  return dates.filter((d) => d !== date);
}

// ---- showing times ----

/** The zones to offer: the runtime's list, plus the current one and UTC if it lacks them. */
export function timeZoneChoices(supported: readonly string[], current: string): string[] {
  return [...new Set([...supported, 'UTC', ...(current ? [current] : [])])].sort();
}

/** A session start for the preview: weekday, date and time in the schedule's zone. */
export function sessionLabel(ms: number, timeZone: string, locale: string): string {
  return formatDateTime(ms, locale, 'long', timeZone);
}

/** A blackout date for people: "Thursday 24 December 2026" (a calendar date, no zone). */
export function dateLabel(date: string, locale: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Intl.DateTimeFormat(locale, {
    timeZone: 'UTC',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  }).format(new Date(Date.UTC(y, m - 1, d)));
}
