/**
 * Schedule enumeration benchmark: what a viewer page costs to list its sessions. For three
 * schedules (a just-in-time slot every 5 minutes, a daily rule whose DTSTART is 25 years back, a
 * daily COUNT=10000 rule from the same DTSTART) it times the calls pages make, joinableSessions(…, 6)
 * and isSessionStart, and sessionStarts limited to 7, against the full 400-day listing: the work
 * every one of those calls did before enumeration was lazy, the before-style worst case. Time
 * per call (median) and time-zone lookups per call (Intl formatToParts, the costly part).
 * Reproduce: npm run bench -- schedule   (BENCH_SCHEDULE_MS=300 of timing per figure)
 */
import os from 'node:os';
import { isSessionStart, sessionStarts, type Schedule } from '../../src/automated/schedule.ts';
import { joinableSessions, SESSION_HORIZON_MS } from '../../src/automated/sessions.ts';
import { table } from './measure.ts';

const BUDGET_MS = Number(process.env.BENCH_SCHEDULE_MS ?? 300);
const DURATION_SECONDS = 3600;

const schedules: Record<string, Schedule> = {
  'jit every 5 min': {
    kind: 'jit',
    timezone: 'Europe/Rome',
    everyMinutes: 5,
    openingHours: { from: '00:00', to: '24:00' },
  },
  'daily, DTSTART 2001': {
    kind: 'recurring',
    timezone: 'America/New_York',
    start: '2001-01-01T10:00',
    rrule: 'FREQ=DAILY',
  },
  'daily COUNT=10000, DTSTART 2001': {
    kind: 'recurring',
    timezone: 'America/New_York',
    start: '2001-01-01T10:00',
    rrule: 'FREQ=DAILY;COUNT=10000',
  },
};

/** Median milliseconds per call over about BUDGET_MS (at least 3 calls), and zone lookups per call. */
function time(work: () => unknown): { ms: number; lookups: number; size: number } {
  // Count lookups on one call by wrapping formatToParts (every Intl lookup in schedule.ts uses it).
  const proto = Intl.DateTimeFormat.prototype;
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'formatToParts')!;
  const original = descriptor.value as (this: Intl.DateTimeFormat, date?: Date | number) => unknown;
  let lookups = 0;
  Object.defineProperty(proto, 'formatToParts', {
    ...descriptor,
    value(this: Intl.DateTimeFormat, date?: Date | number) {
      lookups += 1;
      return original.call(this, date);
    },
  });
  let result: unknown;
  try {
    result = work();
  } finally {
    Object.defineProperty(proto, 'formatToParts', descriptor);
  }
  const samples: number[] = [];
  const began = performance.now();
  while (samples.length < 3 || (performance.now() - began < BUDGET_MS && samples.length < 10_000)) {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const size = Array.isArray(result) ? result.length : typeof result === 'boolean' ? Number(result) : 0;
  return { ms: samples[Math.floor(samples.length / 2)]!, lookups, size };
}

export function run(): Promise<void> {
  const now = Date.UTC(2026, 10, 25, 9, 3);
  const session = (schedule: Schedule) => sessionStarts(schedule, now, now + SESSION_HORIZON_MS, 1)[0]!;
  const rows: Record<string, string | number>[] = [];
  for (const [name, schedule] of Object.entries(schedules)) {
    const at = session(schedule);
    const calls: [string, () => unknown][] = [
      ['joinableSessions(…, 6)', () => joinableSessions(schedule, DURATION_SECONDS, now, 6)],
      ['isSessionStart', () => isSessionStart(schedule, at)],
      ['sessionStarts 400 d, limit 7', () => sessionStarts(schedule, now, now + SESSION_HORIZON_MS, 7)],
      [
        'sessionStarts 400 d, all (before-style)',
        () => sessionStarts(schedule, now, now + SESSION_HORIZON_MS),
      ],
    ];
    for (const [call, work] of calls) {
      const t = time(work);
      rows.push({
        schedule: name,
        call,
        returned: t.size,
        'ms/call': t.ms < 1 ? t.ms.toFixed(4) : t.ms.toFixed(1),
        'zone lookups/call': t.lookups,
      });
    }
  }
  console.log(table(rows));
  console.log(
    `\nmachine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
  );
  console.log('reproduce: npm run bench -- schedule');
  return Promise.resolve();
}
