import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, until } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpServer, type ReceivedMail } from '../helpers/smtp.ts';

let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({ SMTP_URL: smtp.url });
});

afterAll(async () => {
  await server?.close();
  await smtp?.close();
});

interface Preview {
  timezone: string;
  kind: string;
  sessions: { startsAt: string }[];
  error?: { message: string };
}

const preview = (body: unknown) => apiCall<Preview>(server, 'POST', '/api/events/schedule-preview', body);

/**
 * The UTC instant of 16:00 on a Rome calendar date, worked out here with Intl's offset name
 * ("GMT+1", "GMT+2") rather than the schedule code under test.
 */
function romeAt16(year: number, month: number, day: number): string {
  const noonUtc = new Date(Date.UTC(year, month - 1, day, 12));
  const name = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Rome', timeZoneName: 'shortOffset' })
    .formatToParts(noonUtc)
    .find((p) => p.type === 'timeZoneName')!.value;
  const hours = Number(/^GMT([+-]\d+)$/.exec(name)![1]);
  return new Date(Date.UTC(year, month - 1, day, 16 - hours)).toISOString();
}

/** Tuesdays and Thursdays from `first` on (a Rome date), at 16:00 Rome, as UTC instants. */
function tuesdaysAndThursdays(first: Date, count: number): string[] {
  const out: string[] = [];
  for (let d = new Date(first); out.length < count; d = new Date(d.getTime() + 86_400_000)) {
    if (d.getUTCDay() === 2 || d.getUTCDay() === 4)
      out.push(romeAt16(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()));
  }
  return out;
}

/** The next year whose `month`/`day` is still ahead (so the preview, which lists from now, starts there). */
function ahead(month: number, day: number): number {
  const now = new Date();
  const year = now.getUTCFullYear();
  return Date.UTC(year, month - 1, day) > now.getTime() + 2 * 86_400_000 ? year : year + 1;
}

describe('POST /api/events/schedule-preview', () => {
  it.each([
    ['spring (late March)', 3],
    ['autumn (late October)', 10],
  ])(
    'weekly on Tuesday and Thursday at 16:00 Rome: the right UTC instants across the %s change',
    async (_name, month) => {
      const year = ahead(month, 18);
      const start = `${year}-${String(month).padStart(2, '0')}-18T16:00`;
      const schedule = {
        kind: 'recurring',
        timezone: 'Europe/Rome',
        start,
        rrule: 'FREQ=WEEKLY;BYDAY=TU,TH',
        replayDays: 7,
      };
      const { status, json } = await preview({ schedule, count: 6 });
      expect(status).toBe(200);
      expect(json.timezone).toBe('Europe/Rome');
      expect(json.kind).toBe('recurring');
      const expected = tuesdaysAndThursdays(new Date(Date.UTC(year, month - 1, 18)), 6);
      expect(json.sessions.map((s) => s.startsAt)).toEqual(expected);
      // Both sides of the change are in the list: 15:00Z in winter time, 14:00Z in summer time.
      expect(new Set(json.sessions.map((s) => s.startsAt.slice(11, 16)))).toEqual(
        new Set(['15:00', '14:00']),
      );
      // The default count is 8.
      expect((await preview({ schedule })).json.sessions).toHaveLength(8);
    },
  );

  it('answers 400 with the precise message for a bad rule, a bad zone, a bad count or an unknown field', async () => {
    const weekly = { kind: 'recurring', timezone: 'Europe/Rome', start: '2027-03-18T16:00' };
    const yearly = await preview({ schedule: { ...weekly, rrule: 'FREQ=YEARLY' } });
    expect(yearly.status).toBe(400);
    expect(yearly.json.error?.message).toBe(
      'Invalid body: schedule FREQ=YEARLY is not supported (DAILY, WEEKLY or MONTHLY)',
    );
    const monthDay = await preview({ schedule: { ...weekly, rrule: 'FREQ=WEEKLY;BYMONTHDAY=3' } });
    expect(monthDay.status).toBe(400);
    expect(monthDay.json.error?.message).toContain('BYMONTHDAY cannot be used with FREQ=WEEKLY');
    const zone = await preview({ schedule: { ...weekly, timezone: 'Mars/Olympus', rrule: 'FREQ=WEEKLY' } });
    expect(zone.status).toBe(400);
    expect(zone.json.error?.message).toContain('Mars/Olympus is not an IANA time zone');
    const date = await preview({ schedule: { ...weekly, start: '2027-02-30T16:00', rrule: 'FREQ=WEEKLY' } });
    expect(date.json.error?.message).toContain('2027-02 has 28 days');
    const many = await preview({ schedule: { ...weekly, rrule: 'FREQ=WEEKLY' }, count: 21 });
    expect(many.status).toBe(400);
    expect(many.json.error?.message).toMatch(/^Invalid body: count /);
    const extra = await preview({ schedule: { ...weekly, rrule: 'FREQ=WEEKLY' }, from: 'now' });
    expect(extra.status).toBe(400);
    expect((await preview({})).status).toBe(400);
  });

  it('just in time every 5 minutes, round the clock, is 20 sessions at once; on demand has none', async () => {
    const started = Date.now();
    const jit = await preview({
      schedule: {
        kind: 'jit',
        timezone: 'Pacific/Auckland',
        everyMinutes: 5,
        openingHours: { from: '00:00', to: '24:00' },
      },
      count: 20,
    });
    expect(jit.status).toBe(200);
    const starts = jit.json.sessions.map((s) => Date.parse(s.startsAt));
    expect(starts).toHaveLength(20);
    expect(starts.slice(1).map((t, i) => t - starts[i]!)).toEqual(Array(19).fill(5 * 60_000));
    // The first is the next 5-minute mark (Auckland is a whole number of hours from UTC).
    expect(starts[0]! % (5 * 60_000)).toBe(0);
    expect(starts[0]! - started).toBeGreaterThanOrEqual(0);
    expect(starts[0]! - started).toBeLessThanOrEqual(5 * 60_000 + 10_000);
    // Open five minutes a week: twenty weeks ahead.
    const sparse = await preview({
      schedule: {
        kind: 'jit',
        timezone: 'Europe/Rome',
        everyMinutes: 5,
        openingHours: { from: '09:00', to: '09:05', days: ['MO'] },
      },
      count: 20,
    });
    expect(sparse.json.sessions).toHaveLength(20);
    const onDemand = await preview({ schedule: { kind: 'on_demand', timezone: 'UTC' } });
    expect(onDemand.status).toBe(200);
    expect(onDemand.json.sessions).toEqual([]);
    const past = await preview({
      schedule: { kind: 'once', timezone: 'UTC', startsAt: '2020-01-01T10:00:00Z' },
    });
    expect(past.json.sessions).toEqual([]);
  });

  it('is for owners and managers: a presenter is refused with 403', async () => {
    const schedule = {
      kind: 'recurring',
      timezone: 'Europe/Rome',
      start: '2027-03-18T16:00',
      rrule: 'FREQ=WEEKLY',
    };
    for (const [email, role] of [
      ['pia@example.com', 'presenter'],
      ['mia@example.com', 'manager'],
    ] as const) {
      const invited = await apiCall(server, 'POST', '/api/team/invitations', { email, role, eventIds: [] });
      expect(invited.status).toBe(201);
      const mail = await until(`the invitation to ${email}`, () =>
        smtp.mails.find((m: ReceivedMail) => m.to === email && /Join/.test(m.parsed.subject ?? '')),
      );
      const token = decodeURIComponent(/#token=([^\s"<]+)/.exec(mail.parsed.text ?? '')![1]!);
      const accepted = await fetch(`${server.url}/api/auth/invitation/accept`, {
        method: 'POST',
        headers: { origin: server.url, 'content-type': 'application/json' },
        body: JSON.stringify({ token, name: role, password: 'a long enough password' }),
      });
      expect(accepted.status).toBe(201);
      const cookie = accepted.headers.get('set-cookie')!.split(';')[0]!;
      const { csrfToken } = (await accepted.json()) as { csrfToken: string };
      const asked = await fetch(`${server.url}/api/events/schedule-preview`, {
        method: 'POST',
        headers: {
          origin: server.url,
          cookie,
          'x-csrf-token': csrfToken,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ schedule }),
      });
      expect(asked.status, role).toBe(role === 'presenter' ? 403 : 200);
    }
  });
});
