import {
  countBookingsBySession,
  countRegistrationsByDay,
  countViewersByDay,
  countViewersByFurthestMinute,
  countViewersBySession,
} from '../db/analytics-series.ts';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import type { EventRow } from '../db/events.ts';

/** Days a per-day series covers at most (a year, ending on its latest day). */
export const SERIES_DAYS = 366;
/** Sessions the attendance of an automated webinar covers at most (the latest). */
export const SERIES_SESSIONS = 200;
/** Minutes of drop-off at most: 24 h, the longest a timed interaction may sit in a recording. */
const SERIES_MINUTES = 24 * 60;

const DAY_MS = 86_400_000;

/**
 * Per-day counts as a chart draws them: every day from the first to the last (days with none are
 * 0), oldest first, at most `maxDays` days ending on the latest one (older days are left out).
 */
export function fillDays(
  counts: readonly { day: string; n: number }[],
  maxDays = SERIES_DAYS,
): { day: string; n: number }[] {
  if (counts.length === 0) return [];
  const byDay = new Map(counts.map((c) => [c.day, c.n]));
  const times = counts.map((c) => Date.parse(`${c.day}T00:00:00Z`));
  const last = Math.max(...times);
  const first = Math.max(Math.min(...times), last - (maxDays - 1) * DAY_MS);
  const days: { day: string; n: number }[] = [];
  for (let t = first; t <= last; t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    days.push({ day, n: byDay.get(day) ?? 0 });
  }
  return days;
}

/**
 * An automated webinar's sessions with registrants booked and viewers, oldest first: the latest
 * `max` sessions that have either.
 */
export function mergeSessions(
  booked: readonly { sessionAt: string; n: number }[],
  watched: readonly { sessionAt: string; n: number }[],
  max = SERIES_SESSIONS,
): { sessionAt: string; registrants: number; viewers: number }[] {
  const sessions = new Map<string, { sessionAt: string; registrants: number; viewers: number }>();
  const at = (sessionAt: string) => {
    const s = sessions.get(sessionAt) ?? { sessionAt, registrants: 0, viewers: 0 };
    sessions.set(sessionAt, s);
    return s;
  };
  for (const b of booked) at(b.sessionAt).registrants = b.n;
  for (const w of watched) at(w.sessionAt).viewers = w.n;
  return [...sessions.values()].sort((a, b) => a.sessionAt.localeCompare(b.sessionAt)).slice(-max);
}

export interface DropOffPoint {
  /** Seconds into the recording: each whole minute, then its end. */
  second: number;
  /** Viewers who got at least this far. */
  viewers: number;
  /** Their share of all viewers (0..1, 3 decimals). */
  share: number;
}

/**
 * Watch-time drop-off from the histogram of how far viewers got (`countViewersByFurthestMinute`):
 * the share of viewers still watching at each minute of the recording (minute m: those whose
 * furthest position is at least 60·m s) and at its end (within 2 s of it). Minute 0 is everyone.
 */
export function dropOffByMinute(
  histogram: readonly { minute: number; n: number }[],
  durationSeconds: number,
): DropOffPoint[] {
  if (durationSeconds <= 0) return [];
  const endMinute = Math.ceil(durationSeconds / 60);
  const counts = new Array<number>(endMinute + 1).fill(0);
  for (const h of histogram) counts[Math.min(endMinute, Math.max(0, h.minute))]! += h.n;
  const total = counts.reduce((t, n) => t + n, 0);
  // Viewers at or past bucket k: a running sum from the end.
  const atLeast = new Array<number>(endMinute + 1).fill(0);
  for (let k = endMinute, sum = 0; k >= 0; k--) atLeast[k] = sum += counts[k]!;
  const point = (second: number, viewers: number): DropOffPoint => ({
    second,
    viewers,
    share: total ? Math.round((viewers / total) * 1000) / 1000 : 0,
  });
  return [
    ...Array.from({ length: endMinute }, (_, m) => point(m * 60, atLeast[m]!)),
    point(durationSeconds, atLeast[endMinute]!),
  ];
}

export type AttendanceSeries =
  | { by: 'day'; points: { day: string; viewers: number }[] }
  | { by: 'session'; points: { sessionAt: string; registrants: number; viewers: number }[] };

export interface AnalyticsSeries {
  eventId: string;
  /** Per-day series count UTC days. */
  timeZone: 'UTC';
  registrations: { by: 'day'; points: { day: string; registrations: number }[] };
  attendance: AttendanceSeries;
  dropOff: { durationSeconds: number; viewers: number; points: DropOffPoint[] };
}

/** The series behind the analytics charts; every query bounded (days, sessions, minutes). */
export async function analyticsSeries(db: Db, event: EventRow): Promise<AnalyticsSeries> {
  const asset = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
  const duration = Math.min(asset?.duration_seconds ?? 0, SERIES_MINUTES * 60);
  const registrations = fillDays(await countRegistrationsByDay(db, event.id, SERIES_DAYS));
  const attendance: AttendanceSeries =
    event.type === 'automated'
      ? {
          by: 'session',
          points: mergeSessions(
            await countBookingsBySession(db, event.id, SERIES_SESSIONS),
            await countViewersBySession(db, event.id, SERIES_SESSIONS),
          ),
        }
      : {
          by: 'day',
          points: fillDays(await countViewersByDay(db, event.id, SERIES_DAYS)).map((p) => ({
            day: p.day,
            viewers: p.n,
          })),
        };
  const histogram = duration > 0 ? await countViewersByFurthestMinute(db, event.id, duration) : [];
  return {
    eventId: event.id,
    timeZone: 'UTC',
    registrations: {
      by: 'day',
      points: registrations.map((p) => ({ day: p.day, registrations: p.n })),
    },
    attendance,
    dropOff: {
      durationSeconds: duration,
      viewers: histogram.reduce((t, h) => t + h.n, 0),
      points: dropOffByMinute(histogram, duration),
    },
  };
}
