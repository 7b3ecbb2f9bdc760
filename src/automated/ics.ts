/**
 * A calendar invite for one session (RFC 5545). Times are written in UTC ("Z"): unambiguous in
 * every calendar, which shows them in the reader's own zone; the event's zone is given as
 * X-WR-TIMEZONE for calendars that display it. Pure.
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
}

function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
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
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//onair//webinars//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    `X-WR-TIMEZONE:${f.timezone}`,
    'BEGIN:VEVENT',
    `UID:${f.uid}`,
    `DTSTAMP:${utc(f.stampMs)}`,
    `DTSTART:${utc(f.startMs)}`,
    `DTEND:${utc(f.endMs)}`,
    `SEQUENCE:${f.sequence}`,
    `SUMMARY:${text(f.title)}`,
    `DESCRIPTION:${text(`${f.description}\n\nJoin: ${f.url}`.trim())}`,
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
