/**
 * The pure part of a webinar's registrants and analytics panels: what the API answers, shaped into
 * what a chart, its text alternative and its CSV show. No DOM here (unit-tested in Node).
 */
import type { AnalyticsSeries } from '../src/services/analytics-series.ts';
import { toCsv } from '../src/services/csv.ts';

/** One row of GET /api/events/:id/registrants. */
export interface RegistrantView {
  id: string;
  email: string | null;
  name: string | null;
  company: string | null;
  marketingConsent: boolean;
  restricted: boolean;
  registeredAt: string;
  anonymisedAt: string | null;
  secondsWatched: number;
  furthestPosition: number;
}

/** GET /api/events/:id/analytics (the fields the panel uses). */
export interface EventAnalytics {
  durationSeconds: number;
  registrants: number;
  viewers: number;
  averageWatchSeconds: number;
  completionRate: number;
  ctas: { id: string; headline: string; clicks: number }[];
  polls: { id: string; question: string; options: string[]; votes: number[] }[];
}

export type { AnalyticsSeries };

/** `1:02:03`, `2:03`, `0:00`: watch time as people read it. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** `2026-11-25 09:00 UTC` from a UTC ISO timestamp. */
export function formatUtc(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

const percent = (share: number) => `${Math.round(share * 100)}%`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * A chart as the panel draws it and as its text alternative and CSV tell it: `x` and each series'
 * `values` are the plotted numbers; `columns` and `rows` the same data in words and numbers.
 */
export interface ChartSpec {
  /** Stable id (element ids, the CSV's file name). */
  id: string;
  title: string;
  /** One or two sentences: what the chart shows (its caption and accessible name). */
  summary: string;
  /** How x is drawn: UTC days or times (seconds since 1970), categories (0..n-1), minutes. */
  xKind: 'day' | 'time' | 'category' | 'minute';
  /** Axis labels of categories. */
  labels?: string[];
  x: number[];
  series: { label: string; values: number[] }[];
  style: 'bars' | 'lines';
  /** `percent`: values are 0..100. */
  yUnit: 'count' | 'percent';
  columns: string[];
  rows: (string | number)[][];
}

/** A chart's data as RFC 4180 CSV (the table the text alternative shows). */
export function chartCsv(spec: Pick<ChartSpec, 'columns' | 'rows'>): string {
  return toCsv(spec.columns, spec.rows);
}

const daySeconds = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

/** The largest value and where it is (the first of equals), for summaries. */
function peak<T>(items: readonly T[], value: (t: T) => number): T | undefined {
  let best: T | undefined;
  for (const item of items) if (best === undefined || value(item) > value(best)) best = item;
  return best;
}

export function registrationsChart(series: AnalyticsSeries): ChartSpec {
  const points = series.registrations.points;
  const total = points.reduce((t, p) => t + p.registrations, 0);
  const top = peak(points, (p) => p.registrations);
  return {
    id: 'registrations',
    title: 'Registrations per day',
    summary:
      total === 0 || !top
        ? 'No registrations yet.'
        : points.length === 1
          ? `${plural(total, 'registration')}, all on ${top.day} (UTC).`
          : `${plural(total, 'registration')} from ${points[0]!.day} to ${points.at(-1)!.day} (UTC days); ` +
            `the most on ${top.day} (${top.registrations}).`,
    xKind: 'day',
    x: points.map((p) => daySeconds(p.day)),
    series: [{ label: 'Registrations', values: points.map((p) => p.registrations) }],
    style: 'bars',
    yUnit: 'count',
    columns: ['day_utc', 'registrations'],
    rows: points.map((p) => [p.day, p.registrations]),
  };
}

export function attendanceChart(series: AnalyticsSeries): ChartSpec {
  const attendance = series.attendance;
  if (attendance.by === 'session') {
    const points = attendance.points;
    const top = peak(points, (p) => p.viewers);
    return {
      id: 'attendance',
      title: 'Attendance per session',
      summary:
        !top || top.viewers + points.reduce((t, p) => t + p.registrants, 0) === 0
          ? 'No session has registrants or viewers yet.'
          : `${plural(points.length, 'session')} from ${formatUtc(points[0]!.sessionAt)} to ` +
            `${formatUtc(points.at(-1)!.sessionAt)}; the most viewers at ${formatUtc(top.sessionAt)} ` +
            `(${top.viewers} of ${plural(top.registrants, 'registrant')}).`,
      xKind: 'time',
      x: points.map((p) => Date.parse(p.sessionAt) / 1000),
      series: [
        { label: 'Registrants', values: points.map((p) => p.registrants) },
        { label: 'Viewers', values: points.map((p) => p.viewers) },
      ],
      style: 'lines',
      yUnit: 'count',
      columns: ['session_utc', 'registrants', 'viewers'],
      rows: points.map((p) => [p.sessionAt, p.registrants, p.viewers]),
    };
  }
  const points = attendance.points;
  const top = peak(points, (p) => p.viewers);
  return {
    id: 'attendance',
    title: 'Viewers per day',
    summary:
      !top || top.viewers === 0
        ? 'Nobody has watched yet.'
        : points.length === 1
          ? `${plural(top.viewers, 'viewer')}, all on ${top.day} (UTC, the day they started watching).`
          : `Viewers from ${points[0]!.day} to ${points.at(-1)!.day} (UTC days, by the day they started ` +
            `watching); the most on ${top.day} (${top.viewers}).`,
    xKind: 'day',
    x: points.map((p) => daySeconds(p.day)),
    series: [{ label: 'Viewers', values: points.map((p) => p.viewers) }],
    style: 'bars',
    yUnit: 'count',
    columns: ['day_utc', 'viewers'],
    rows: points.map((p) => [p.day, p.viewers]),
  };
}

export function dropOffChart(series: AnalyticsSeries): ChartSpec {
  const { points, viewers, durationSeconds } = series.dropOff;
  // The point nearest the middle of the recording, for the summary.
  const middle = peak(points, (p) => -Math.abs(p.second - durationSeconds / 2));
  const end = points.at(-1);
  return {
    id: 'drop-off',
    title: 'Watch-time drop-off',
    summary:
      viewers === 0 || !middle || !end
        ? 'Nobody has watched yet.'
        : `Of ${plural(viewers, 'viewer')}, ${percent(middle.share)} were still watching at ` +
          `${formatSeconds(middle.second)} and ${percent(end.share)} reached the end (${formatSeconds(end.second)}).`,
    xKind: 'minute',
    x: points.map((p) => Math.round((p.second / 60) * 100) / 100),
    series: [{ label: 'Still watching (%)', values: points.map((p) => Math.round(p.share * 1000) / 10) }],
    style: 'lines',
    yUnit: 'percent',
    columns: ['position', 'seconds', 'viewers', 'share_still_watching'],
    rows: points.map((p) => [formatSeconds(p.second), Math.round(p.second), p.viewers, p.share]),
  };
}

export function ctaChart(analytics: EventAnalytics): ChartSpec {
  const ctas = analytics.ctas;
  const total = ctas.reduce((t, c) => t + c.clicks, 0);
  const top = peak(ctas, (c) => c.clicks);
  return {
    id: 'cta-clicks',
    title: 'Call-to-action clicks',
    summary:
      ctas.length === 0
        ? 'This webinar has no calls-to-action.'
        : total === 0 || !top
          ? 'No clicks yet.'
          : `${plural(total, 'click')} on ${plural(ctas.length, 'call-to-action', 'calls-to-action')}; ` +
            `the most on “${top.headline}” (${top.clicks}).`,
    xKind: 'category',
    labels: ctas.map((c) => c.headline),
    x: ctas.map((_, i) => i),
    series: [{ label: 'Clicks', values: ctas.map((c) => c.clicks) }],
    style: 'bars',
    yUnit: 'count',
    columns: ['call_to_action', 'clicks'],
    rows: ctas.map((c) => [c.headline, c.clicks]),
  };
}

export function pollCharts(analytics: EventAnalytics): ChartSpec[] {
  return analytics.polls.map((poll) => {
    const total = poll.votes.reduce((t, n) => t + n, 0);
    const options = poll.options.map((label, i) => ({ label, votes: poll.votes[i] ?? 0 }));
    const leader = peak(options, (o) => o.votes);
    return {
      id: `poll-${poll.id}`,
      title: `Poll: ${poll.question}`,
      summary:
        total === 0 || !leader
          ? 'No votes yet.'
          : `${plural(total, 'vote')}; “${leader.label}” leads with ${leader.votes} (${percent(leader.votes / total)}).`,
      xKind: 'category',
      labels: poll.options,
      x: options.map((_, i) => i),
      series: [{ label: 'Votes', values: options.map((o) => o.votes) }],
      style: 'bars',
      yUnit: 'count',
      columns: ['option', 'votes'],
      rows: options.map((o) => [o.label, o.votes]),
    };
  });
}

/** Every chart of the panel, in the order shown. */
export function analyticsCharts(analytics: EventAnalytics, series: AnalyticsSeries): ChartSpec[] {
  return [
    registrationsChart(series),
    attendanceChart(series),
    dropOffChart(series),
    ctaChart(analytics),
    ...pollCharts(analytics),
  ];
}
