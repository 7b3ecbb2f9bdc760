import { sessionStarts, type Schedule } from './schedule.ts';

/** Where a session stands at `nowMs`. Pure. */
export type SessionState = 'upcoming' | 'live' | 'replay' | 'ended';

export interface SessionView {
  readonly startMs: number;
  readonly endMs: number;
  readonly state: SessionState;
  /** Until when the replay plays (null: no replay). */
  readonly replayUntilMs: number | null;
}

export const DEFAULT_REPLAY_DAYS = 7;

/** How far ahead sessions are looked for (weekly and monthly schedules included), and the longest listing. */
export const SESSION_HORIZON_MS = 400 * 86_400_000;

export function replayDaysOf(schedule: Schedule): number {
  return schedule.replayDays ?? DEFAULT_REPLAY_DAYS;
}

export function sessionView(
  schedule: Schedule,
  startMs: number,
  durationSeconds: number,
  nowMs: number,
): SessionView {
  const endMs = startMs + durationSeconds * 1000;
  const days = replayDaysOf(schedule);
  const replayUntilMs = days > 0 ? endMs + days * 86_400_000 : null;
  const state: SessionState =
    nowMs < startMs
      ? 'upcoming'
      : nowMs < endMs
        ? 'live'
        : replayUntilMs !== null && nowMs < replayUntilMs
          ? 'replay'
          : 'ended';
  return { startMs, endMs, state, replayUntilMs };
}

/** The sessions a viewer can pick: one on air now (joinable at the live point) and the next ones. */
export function joinableSessions(
  schedule: Schedule,
  durationSeconds: number,
  nowMs: number,
  count: number,
): SessionView[] {
  const from = nowMs - durationSeconds * 1000;
  // Look ahead far enough for weekly/monthly schedules; the limit keeps the work to what is shown
  // (one more than asked, as a session ending exactly now is dropped below).
  const starts = sessionStarts(schedule, from, nowMs + SESSION_HORIZON_MS, count + 1);
  return starts
    .map((start) => sessionView(schedule, start, durationSeconds, nowMs))
    .filter((s) => s.state === 'upcoming' || s.state === 'live')
    .slice(0, count);
}

/** Session scope ids: the webinar ID and the session start in Unix seconds (`123456789.1764064800`). */
export function sessionScopeId(webinarId: string, startMs: number): string {
  return `${webinarId}.${Math.floor(startMs / 1000)}`;
}

export function parseSessionScopeId(id: string): { webinarId: string; startMs: number } | undefined {
  const m = /^(\d{9})\.(\d{9,11})$/.exec(id);
  return m ? { webinarId: m[1]!, startMs: Number(m[2]) * 1000 } : undefined;
}
