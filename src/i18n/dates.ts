/**
 * Dates and times for people, in their language and time zone, through `Intl.DateTimeFormat`.
 * Browser-safe: the pages format in the browser's own zone, emails in the registrant's.
 */
import type { Language } from './languages.ts';

/**
 * The shapes onair shows a time in. (dateStyle/timeStyle cannot be combined with timeZoneName,
 * hence the fields.)
 */
export const DATE_STYLES = {
  /** The waiting room: "Tuesday, December 1, 2026 at 10:00 AM CET". */
  long: {
    weekday: 'long',
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  },
  /** A session in a list: "Tue, Dec 1, 10:00 AM CET". */
  short: {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
  },
  /** Emails: "Tuesday 1 December 2026 at 10:00 CET", a 24-hour clock with two digits. */
  mail: {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  },
} as const satisfies Record<string, Intl.DateTimeFormatOptions>;

export type DateStyle = keyof typeof DATE_STYLES;

/**
 * The locale to format dates in for a page in `language`: the browser's own variant when it is of
 * the same language (a British viewer of an English page keeps day-month order and a 24-hour
 * clock), else the page's language (an Italian event shows Italian dates to everyone).
 */
export function dateLocale(language: Language, preferred: readonly string[] = []): string {
  const primary = language.split('-')[0]!.toLowerCase();
  const same = preferred.find((tag) => tag.split('-')[0]!.toLowerCase() === primary);
  if (same && same.length <= 35 && Intl.DateTimeFormat.supportedLocalesOf([same]).length > 0) return same;
  return language;
}

/** The locale of emails: English ones keep the British style they always had (24-hour clock). */
export function mailLocale(language: Language): string {
  return language === 'en' ? 'en-GB' : language;
}

/** `ms` as a date and time in `locale`, in `timeZone` (the runtime's own zone when undefined). */
export function formatDateTime(ms: number, locale: string, style: DateStyle, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, {
    ...DATE_STYLES[style],
    ...(timeZone ? { timeZone } : {}),
  }).format(new Date(ms));
}
