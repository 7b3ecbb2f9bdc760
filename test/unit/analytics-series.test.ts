import { describe, expect, it } from 'vitest';
import {
  analyticsCharts,
  attendanceChart,
  chartCsv,
  dropOffChart,
  formatSeconds,
  pollCharts,
  registrationsChart,
  type AnalyticsSeries,
  type EventAnalytics,
} from '../../player/admin-data.ts';
import { containsPattern, escapeLike } from '../../src/db/like-pattern.ts';
import { dropOffByMinute, fillDays, mergeSessions } from '../../src/services/analytics-series.ts';

describe('LIKE patterns', () => {
  it('takes %, _ and the escape character literally', () => {
    expect(escapeLike('50%_off\\')).toBe('50\\%\\_off\\\\');
    expect(escapeLike('plain text')).toBe('plain text');
    expect(escapeLike('')).toBe('');
  });

  it('is "contains", lower-cased', () => {
    expect(containsPattern('ACME_Corp')).toBe('%acme\\_corp%');
    expect(containsPattern('100%')).toBe('%100\\%%');
  });
});

describe('per-day series', () => {
  it('fills the days between with zeros, oldest first', () => {
    expect(
      fillDays([
        { day: '2026-11-27', n: 2 },
        { day: '2026-11-24', n: 5 },
      ]),
    ).toEqual([
      { day: '2026-11-24', n: 5 },
      { day: '2026-11-25', n: 0 },
      { day: '2026-11-26', n: 0 },
      { day: '2026-11-27', n: 2 },
    ]);
    expect(fillDays([])).toEqual([]);
  });

  it('crosses month and year ends in UTC', () => {
    expect(
      fillDays([
        { day: '2026-12-31', n: 1 },
        { day: '2027-01-01', n: 1 },
      ]).map((d) => d.day),
    ).toEqual(['2026-12-31', '2027-01-01']);
  });

  it('keeps at most maxDays, ending on the latest day', () => {
    const days = fillDays(
      [
        { day: '2025-01-01', n: 9 },
        { day: '2026-11-27', n: 1 },
      ],
      3,
    );
    expect(days).toEqual([
      { day: '2026-11-25', n: 0 },
      { day: '2026-11-26', n: 0 },
      { day: '2026-11-27', n: 1 },
    ]);
  });
});

describe('sessions', () => {
  it('merges bookings and viewers per session, oldest first, the latest `max`', () => {
    const booked = [
      { sessionAt: '2026-11-25T09:00:00.000Z', n: 4 },
      { sessionAt: '2026-11-24T09:00:00.000Z', n: 3 },
    ];
    const watched = [
      { sessionAt: '2026-11-24T09:00:00.000Z', n: 2 },
      { sessionAt: '2026-11-23T09:00:00.000Z', n: 1 },
    ];
    expect(mergeSessions(booked, watched)).toEqual([
      { sessionAt: '2026-11-23T09:00:00.000Z', registrants: 0, viewers: 1 },
      { sessionAt: '2026-11-24T09:00:00.000Z', registrants: 3, viewers: 2 },
      { sessionAt: '2026-11-25T09:00:00.000Z', registrants: 4, viewers: 0 },
    ]);
    expect(mergeSessions(booked, watched, 1).map((s) => s.sessionAt)).toEqual(['2026-11-25T09:00:00.000Z']);
  });
});

describe('drop-off per minute', () => {
  it('is the share still watching at each minute and at the end', () => {
    // 300 s: minutes 0..4 and the end. 4 viewers: got to 0:30, 1:10, 4:59 (the end, within 2 s), 5:00.
    const points = dropOffByMinute(
      [
        { minute: 0, n: 1 },
        { minute: 1, n: 1 },
        { minute: 5, n: 2 },
      ],
      300,
    );
    expect(points).toEqual([
      { second: 0, viewers: 4, share: 1 },
      { second: 60, viewers: 3, share: 0.75 },
      { second: 120, viewers: 2, share: 0.5 },
      { second: 180, viewers: 2, share: 0.5 },
      { second: 240, viewers: 2, share: 0.5 },
      { second: 300, viewers: 2, share: 0.5 },
    ]);
  });

  it('ends on a duration that is not whole minutes, and never rises', () => {
    const points = dropOffByMinute(
      [
        { minute: 0, n: 3 },
        { minute: 2, n: 1 },
        { minute: 3, n: 2 },
      ],
      150.5,
    );
    expect(points.map((p) => p.second)).toEqual([0, 60, 120, 150.5]);
    expect(points.map((p) => p.viewers)).toEqual([6, 3, 3, 2]);
    for (let i = 1; i < points.length; i++)
      expect(points[i]!.share).toBeLessThanOrEqual(points[i - 1]!.share);
    expect(points[1]!.share).toBe(0.5);
  });

  it('has nothing to say without viewers or a duration', () => {
    expect(dropOffByMinute([], 120).map((p) => p.share)).toEqual([0, 0, 0]);
    expect(dropOffByMinute([{ minute: 0, n: 3 }], 0)).toEqual([]);
  });
});

const SERIES: AnalyticsSeries = {
  eventId: 'ev_x',
  timeZone: 'UTC',
  registrations: {
    by: 'day',
    points: [
      { day: '2026-11-24', registrations: 3 },
      { day: '2026-11-25', registrations: 0 },
      { day: '2026-11-26', registrations: 5 },
    ],
  },
  attendance: { by: 'day', points: [{ day: '2026-11-26', viewers: 4 }] },
  dropOff: {
    durationSeconds: 120,
    viewers: 4,
    points: [
      { second: 0, viewers: 4, share: 1 },
      { second: 60, viewers: 2, share: 0.5 },
      { second: 120, viewers: 1, share: 0.25 },
    ],
  },
};

const ANALYTICS: EventAnalytics = {
  durationSeconds: 120,
  registrants: 8,
  viewers: 4,
  averageWatchSeconds: 70,
  completionRate: 0.25,
  ctas: [{ id: 'buy', headline: 'Buy, now', clicks: 3 }],
  polls: [{ id: 'p1', question: 'Which?', options: ['=1+1', 'B'], votes: [1, 3] }],
};

describe('charts', () => {
  it('shape each series as x, values, a summary and a table', () => {
    const registrations = registrationsChart(SERIES);
    expect(registrations.x).toEqual([
      Date.parse('2026-11-24T00:00:00Z') / 1000,
      Date.parse('2026-11-25T00:00:00Z') / 1000,
      Date.parse('2026-11-26T00:00:00Z') / 1000,
    ]);
    expect(registrations.series[0]!.values).toEqual([3, 0, 5]);
    expect(registrations.summary).toBe(
      '8 registrations from 2026-11-24 to 2026-11-26 (UTC days); the most on 2026-11-26 (5).',
    );
    const dropOff = dropOffChart(SERIES);
    expect(dropOff.x).toEqual([0, 1, 2]);
    expect(dropOff.series[0]!.values).toEqual([100, 50, 25]);
    expect(dropOff.summary).toBe(
      'Of 4 viewers, 50% were still watching at 1:00 and 25% reached the end (2:00).',
    );
    const [poll] = pollCharts(ANALYTICS);
    expect(poll!.summary).toBe('4 votes; “B” leads with 3 (75%).');
    expect(analyticsCharts(ANALYTICS, SERIES).map((c) => c.id)).toEqual([
      'registrations',
      'attendance',
      'drop-off',
      'cta-clicks',
      'poll-p1',
    ]);
  });

  it('say so when there is nothing yet', () => {
    const empty: AnalyticsSeries = {
      ...SERIES,
      registrations: { by: 'day', points: [] },
      dropOff: { durationSeconds: 120, viewers: 0, points: [] },
    };
    expect(registrationsChart(empty).summary).toBe('No registrations yet.');
    const oneDay: AnalyticsSeries = {
      ...SERIES,
      registrations: { by: 'day', points: [{ day: '2026-11-26', registrations: 1 }] },
    };
    expect(registrationsChart(oneDay).summary).toBe('1 registration, all on 2026-11-26 (UTC).');
    expect(attendanceChart(SERIES).summary).toBe(
      '4 viewers, all on 2026-11-26 (UTC, the day they started watching).',
    );
    expect(dropOffChart(empty).summary).toBe('Nobody has watched yet.');
  });

  it('download as CSV: quoted where needed, formulas kept as text', () => {
    expect(chartCsv(registrationsChart(SERIES))).toBe(
      'day_utc,registrations\r\n2026-11-24,3\r\n2026-11-25,0\r\n2026-11-26,5\r\n',
    );
    const cta = analyticsCharts(ANALYTICS, SERIES).find((c) => c.id === 'cta-clicks')!;
    expect(chartCsv(cta)).toBe('call_to_action,clicks\r\n"Buy, now",3\r\n');
    expect(chartCsv(pollCharts(ANALYTICS)[0]!)).toBe("option,votes\r\n'=1+1,1\r\nB,3\r\n");
  });

  it('watch time reads as m:ss or h:mm:ss', () => {
    expect(formatSeconds(0)).toBe('0:00');
    expect(formatSeconds(62.4)).toBe('1:02');
    expect(formatSeconds(3723)).toBe('1:02:03');
  });
});
