import { joinableSessions, sessionScopeId, sessionView, type SessionState } from '../automated/sessions.ts';
import type { AssetRow } from '../db/assets.ts';
import { gateOf, scheduleOf, type EventRow } from '../db/events.ts';
import { formatWebinarId } from '../ids.ts';
import type { Language } from '../i18n/languages.ts';
import { MASTER_PLAYLIST } from '../media/hls-output.ts';
import { canWatch, type Viewer } from './viewer-access.ts';

/** What the event page shows; the player and the page's copy key off it. */
export type PageState = 'expired' | 'gated' | 'waiting' | 'ended' | 'not_ready' | 'choose' | 'playable';

/**
 * Live and on-demand events. A live event plays its growing recording only while on air; after
 * that, the published replay (`revision` is whichever of the two may play, if any).
 */
export function broadcastState(f: {
  expired: boolean;
  live: boolean;
  hasAccess: boolean;
  liveEnded: boolean;
  revision: string | null | undefined;
}): PageState {
  if (f.expired) return 'expired';
  if (f.live) {
    if (!f.hasAccess) return 'gated';
    if (!f.revision) return f.liveEnded ? 'ended' : 'waiting';
    return 'playable';
  }
  if (!f.revision) return 'not_ready';
  return f.hasAccess ? 'playable' : 'gated';
}

/**
 * Automated webinars: the viewer's session decides -- its waiting room before the start, the
 * stream "as if live" during it and the replay after it while allowed, else "ended".
 */
export function automatedState(f: {
  expired: boolean;
  ready: boolean;
  hasAccess: boolean;
  session: SessionState | undefined;
}): PageState {
  if (f.expired) return 'expired';
  if (!f.ready) return 'not_ready';
  if (!f.hasAccess) return 'gated';
  if (!f.session) return 'choose';
  if (f.session === 'upcoming') return 'waiting';
  if (f.session === 'ended') return 'ended';
  return 'playable';
}

/** Signed playback URLs, bound to the server's base URL and secret by the caller. */
export interface PagePlayback {
  /** A signed URL of `file` in `revision`, for `scope` (a webinar ID or a session's scope id). */
  url(scope: string, revision: string, file: string, expires: number): string;
  /** The URLs' expiry (unix seconds), no later than `capMs` when given. */
  expiresAt(capMs?: number): number;
}

/** Everything the event page's data depends on; gathered by the routes, read by `eventPage`. */
export interface PageInput {
  event: EventRow;
  asset: AssetRow | undefined;
  viewer: Viewer;
  nowMs: number;
  /** Automated events: the session this viewer holds (ms), if any. */
  chosenSessionMs?: number | undefined;
  playback: PagePlayback;
  /** A signed viewing grant for heartbeats; asked for only when the page is playable. */
  viewGrant: (sessionStartMs?: number) => string;
  /** The data page link, for the browser that may act for the registrant. */
  selfServiceUrl: string | null;
  /** The language of the page's words (the event's, or the viewer's browser's). */
  language: Language;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The event page's data (`/w/:webinarId/info.json` and the answers of registration and booking). */
export function eventPage(input: PageInput) {
  return input.event.type === 'automated' ? automatedPage(input) : broadcastPage(input);
}

function replayExpired(event: EventRow, nowMs: number): boolean {
  return Boolean(event.replay_expires_at && Date.parse(event.replay_expires_at) < nowMs);
}

function broadcastPage({
  event,
  asset,
  viewer,
  nowMs,
  playback: urls,
  viewGrant,
  selfServiceUrl,
  language,
}: PageInput) {
  const live = event.type === 'live';
  const onAir =
    live &&
    asset?.status !== 'ready' &&
    (event.live_status === 'live' || event.live_status === 'reconnecting');
  const revision =
    asset?.status === 'ready' ? asset.revision : !live || onAir ? asset?.preview_revision : undefined;
  const state = broadcastState({
    expired: replayExpired(event, nowMs),
    live,
    hasAccess: canWatch(event, viewer),
    liveEnded: live && (event.live_status === 'ended' || Boolean(event.ended_at)),
    revision,
  });
  let playback = null;
  if (state === 'playable' && asset && revision) {
    const cap = event.replay_expires_at ? Date.parse(event.replay_expires_at) : undefined;
    const expires = urls.expiresAt(cap);
    const url = (file: string) => urls.url(event.webinar_id, revision, file, expires);
    playback = {
      master: url(MASTER_PLAYLIST),
      poster: asset.status === 'ready' && asset.has_poster ? url('poster.jpg') : null,
      storyboard: asset.status === 'ready' && asset.has_storyboard ? url('storyboard.vtt') : null,
      complete: asset.status === 'ready',
      live: onAir,
      durationSeconds: asset.duration_seconds,
      expiresAt: iso(expires * 1000),
      view: viewGrant(),
    };
  }
  return {
    webinarId: formatWebinarId(event.webinar_id),
    title: event.title,
    description: event.description,
    type: event.type,
    startsAt: event.starts_at,
    liveStatus: live ? event.live_status : null,
    gate: gateOf(event),
    state,
    playback,
    selfServiceUrl,
    language,
  };
}

function automatedPage(input: PageInput) {
  const { event, asset, viewer, nowMs, playback: urls, viewGrant, selfServiceUrl, language } = input;
  const gate = gateOf(event);
  const schedule = scheduleOf(event);
  const hasAccess = canWatch(event, viewer);
  const ready = Boolean(asset?.status === 'ready' && asset.revision && asset.duration_seconds && schedule);
  const duration = asset?.duration_seconds ?? 0;
  const sessions = schedule && ready ? joinableSessions(schedule, duration, nowMs, 6) : [];
  const session =
    schedule && hasAccess && input.chosenSessionMs !== undefined
      ? sessionView(schedule, input.chosenSessionMs, duration, nowMs)
      : undefined;
  const state = automatedState({
    expired: replayExpired(event, nowMs),
    ready,
    hasAccess,
    session: session?.state,
  });
  let playback = null;
  if (state === 'playable' && session && asset?.revision) {
    const caps = [
      session.replayUntilMs,
      event.replay_expires_at ? Date.parse(event.replay_expires_at) : null,
    ];
    const cap = caps.filter((c): c is number => typeof c === 'number' && Number.isFinite(c));
    const expires = urls.expiresAt(cap.length > 0 ? Math.min(...cap) : undefined);
    // Session-scoped: the origin computes the session's playlists from the clock.
    const scope = sessionScopeId(event.webinar_id, session.startMs);
    playback = {
      master: urls.url(scope, asset.revision, MASTER_PLAYLIST, expires),
      poster: asset.has_poster ? urls.url(scope, asset.revision, 'poster.jpg', expires) : null,
      storyboard: null,
      complete: session.state === 'replay',
      live: session.state === 'live',
      durationSeconds: duration,
      expiresAt: iso(expires * 1000),
      view: viewGrant(session.startMs),
    };
  }
  return {
    webinarId: formatWebinarId(event.webinar_id),
    title: event.title,
    description: event.description,
    type: event.type,
    startsAt: session ? iso(session.startMs) : sessions[0] ? iso(sessions[0].startMs) : event.starts_at,
    liveStatus: null,
    gate,
    state,
    playback,
    schedule: schedule ? { kind: schedule.kind, timezone: schedule.timezone } : null,
    session: session
      ? {
          startsAt: iso(session.startMs),
          endsAt: iso(session.endMs),
          state: session.state,
          replayUntil: session.replayUntilMs ? iso(session.replayUntilMs) : null,
        }
      : null,
    sessions: sessions.map((s) => ({ startsAt: iso(s.startMs), state: s.state })),
    registered: Boolean(viewer.registrant && gate.emailRequired),
    selfServiceUrl,
    language,
  };
}
