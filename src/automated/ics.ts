import { DEFAULT_LANGUAGE, type Language } from '../i18n/languages.ts';
import { translator } from '../i18n/messages.ts';
import { localParts, offsetMs } from './schedule.ts';

/**
 * A calendar invite for one session (RFC 5545), in the event's own time zone: DTSTART/DTEND carry
 * TZID with the local wall time, and a VTIMEZONE describes that zone's offsets and daylight-saving
 * changes around the session (computed from the platform's time-zone data through Intl), so
 * calendars show the session at the right instant and in the zone it was planned in. Pure.
 */
export interface InviteFields {
  /** Stable across reminders and reschedules, so calendars update the entry instead of adding one. */
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly url: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly timezone: string;
  readonly organizerName: string;
  readonly organizerEmail: string;
  /** Bumped when the session moves. */
  readonly sequence: number;
  readonly stampMs: number;
  /** The language of the words onair adds ("Join: <url>"; title and description are the marketer's). Default `en`. */
  readonly language?: Language | undefined;
}

function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

const two = (n: number) => String(n).padStart(2, '0');

/** Local wall time in a zone as `YYYYMMDDTHHMMSS`. */
function local(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}${two(p.month)}${two(p.day)}T${two(p.hour)}${two(p.minute)}${two(p.second)}`;
}

/** UTC fields of a shifted instant, i.e. a wall time, as `YYYYMMDDTHHMMSS`. */
function wallTime(shiftedMs: number): string {
  const d = new Date(shiftedMs);
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}T${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
}

function offsetText(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
}

/**
 * VTIMEZONE for `timeZone` covering a year either side of `aroundMs`: each offset change found by
 * a daily scan and pinned to the minute by bisection; DTSTART of a change is the local time before
 * it (RFC 5545 3.6.5). A zone without changes gets one STANDARD block.
 */
export function vtimezone(timeZone: string, aroundMs: number): string[] {
  const day = 86_400_000;
  const changes: { at: number; from: number; to: number }[] = [];
  let t = aroundMs - 366 * day;
  let before = offsetMs(t, timeZone);
  for (t += day; t <= aroundMs + 366 * day; t += day) {
    const now = offsetMs(t, timeZone);
    if (now === before) continue;
    let lo = t - day;
    let hi = t;
    while (hi - lo > 60_000) {
      const mid = Math.floor((lo + hi) / 2 / 60_000) * 60_000;
      if (offsetMs(mid, timeZone) === before) lo = mid;
      else hi = mid;
    }
    changes.push({ at: hi, from: before, to: now });
    before = now;
  }
  const lines = ['BEGIN:VTIMEZONE', `TZID:${timeZone}`];
  // The offset in force from the start of the covered span (or for ever, without changes).
  const start = aroundMs - 366 * day;
  const initial = offsetMs(start, timeZone);
  const initialKind = changes[0] && changes[0].to < initial ? 'DAYLIGHT' : 'STANDARD';
  lines.push(
    `BEGIN:${initialKind}`,
    `DTSTART:${changes.length === 0 ? '19700101T000000' : wallTime(start + initial)}`,
    `TZOFFSETFROM:${offsetText(initial)}`,
    `TZOFFSETTO:${offsetText(initial)}`,
    `END:${initialKind}`,
  );
  for (const c of changes) {
    const kind = c.to > c.from ? 'DAYLIGHT' : 'STANDARD';
    lines.push(
      `BEGIN:${kind}`,
      // The wall time the change happens at, on the clocks before it (TZOFFSETFROM).
      `DTSTART:${wallTime(c.at + c.from)}`,
      `TZOFFSETFROM:${offsetText(c.from)}`,
      `TZOFFSETTO:${offsetText(c.to)}`,
      `END:${kind}`,
    );
  }
  lines.push('END:VTIMEZONE');
  return lines;
}

/** TEXT escaping (3.3.11). */
function text(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

/** Lines longer than 75 octets are folded (3.1), counting UTF-8 bytes, never splitting a character. */
function fold(line: string): string {
  const out: string[] = [];
  let current = '';
  let bytes = 0;
  for (const ch of line) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > (out.length === 0 ? 75 : 74)) {
      out.push(current);
      current = '';
      bytes = 0;
    }
    current += ch;
    bytes += size;
  }
  out.push(current);
  return out.join('\r\n ');
}

export function sessionInvite(f: InviteFields): string {
  const utcZone = f.timezone === 'UTC' || f.timezone === 'Etc/UTC';
  const t = translator(f.language ?? DEFAULT_LANGUAGE);
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//onair//webinars//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-TIMEZONE:${f.timezone}`,
    ...(utcZone ? [] : vtimezone(f.timezone, f.startMs)),
    'BEGIN:VEVENT',
    `UID:${f.uid}`,
    `DTSTAMP:${utc(f.stampMs)}`,
    utcZone ? `DTSTART:${utc(f.startMs)}` : `DTSTART;TZID=${f.timezone}:${local(f.startMs, f.timezone)}`,
    utcZone ? `DTEND:${utc(f.endMs)}` : `DTEND;TZID=${f.timezone}:${local(f.endMs, f.timezone)}`,
    `SEQUENCE:${f.sequence}`,
    `SUMMARY:${text(f.title)}`,
    `DESCRIPTION:${text(`${f.description}\n\n${t.t('ics.join', { url: f.url })}`.trim())}`,
    `URL:${f.url}`,
    `LOCATION:${text(f.url)}`,
    `ORGANIZER;CN=${text(f.organizerName).replace(/[:;"]/g, '')}:mailto:${f.organizerEmail}`,
    'STATUS:CONFIRMED',
    'TRANSP:OPAQUE',
    'BEGIN:VALARM',
    'ACTION:DISPLAY',
    `DESCRIPTION:${text(f.title)}`,
    'TRIGGER:-PT10M',
    'END:VALARM',
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(fold).join('\r\n') + '\r\n';
}
