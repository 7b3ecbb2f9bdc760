import type { MediaPlaylist, MediaSegment } from './hls-playlist.ts';

/**
 * Automated webinars air a recording "as if live" without running ffmpeg: a session's playlists
 * are computed from the VOD playlist and the clock. A segment becomes available when its start
 * time has come (nobody gets ahead of "now"); the window slides like a live stream; at the end the
 * playlist closes with ENDLIST. Pure: the same inputs give the same text, so every viewer of a
 * session (and every edge) gets identical, cacheable playlists.
 */

/** A timed interaction carried in the stream as EXT-X-DATERANGE. Times are media seconds. */
export interface TimedMarker {
  readonly id: string;
  /** `com.onair.cta`, `com.onair.poll`, `com.onair.chat`. */
  readonly class: string;
  readonly start: number;
  /** Undefined for instants (a chat message). */
  readonly end?: number;
  /** Client data (JSON), base64 in X-ONAIR-DATA. */
  readonly data: unknown;
}

export interface SessionTimeline {
  /** Cumulative start time of each segment (seconds into the recording). */
  readonly starts: readonly number[];
  readonly total: number;
}

export function timelineOf(segments: readonly MediaSegment[]): SessionTimeline {
  const starts: number[] = [];
  let t = 0;
  for (const s of segments) {
    starts.push(t);
    t += s.duration;
  }
  return { starts, total: t };
}

/** Index of the last segment that has started `elapsed` seconds into the session (-1: none yet). */
export function lastStartedIndex(timeline: SessionTimeline, elapsed: number): number {
  let lo = 0;
  let hi = timeline.starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (timeline.starts[mid]! <= elapsed) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

export interface SessionWindow {
  /** First and last listed segment indexes (inclusive). */
  readonly first: number;
  readonly last: number;
  readonly ended: boolean;
}

/**
 * Which segments a session lists `elapsed` seconds after it started, or `waiting` before. Once
 * the recording is over (`replay`), everything is listed as VOD.
 */
export function sessionWindow(
  timeline: SessionTimeline,
  elapsed: number,
  windowSeconds: number,
  minSegments: number,
): SessionWindow | 'waiting' {
  if (elapsed < 0) return 'waiting';
  const count = timeline.starts.length;
  if (elapsed >= timeline.total) return { first: 0, last: count - 1, ended: true };
  const last = lastStartedIndex(timeline, elapsed);
  let first = last;
  while (
    first > 0 &&
    (timeline.starts[last]! - timeline.starts[first]! < windowSeconds || last - first + 1 < minSegments)
  ) {
    first -= 1;
  }
  return { first, last, ended: false };
}

function iso(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

function dateRangeTag(marker: TimedMarker, sessionStartMs: number): string {
  const attrs = [
    `ID="${marker.id.replace(/"/g, '')}"`,
    `CLASS="${marker.class}"`,
    `START-DATE="${iso(sessionStartMs + marker.start * 1000)}"`,
  ];
  if (marker.end !== undefined) attrs.push(`DURATION=${Math.max(0, marker.end - marker.start).toFixed(3)}`);
  attrs.push(`X-ONAIR-DATA="${Buffer.from(JSON.stringify(marker.data)).toString('base64')}"`);
  return `#EXT-X-DATERANGE:${attrs.join(',')}`;
}

/**
 * The session's media playlist text. PROGRAM-DATE-TIME anchors the recording to the session's
 * start, and EXT-X-DATERANGE tags carry the interactions whose time has come (a CTA is announced
 * a little before it shows, so players have it when the picture gets there), in live sessions and
 * the replay alike.
 */
export function writeSessionPlaylist(
  vod: MediaPlaylist,
  timeline: SessionTimeline,
  window: SessionWindow,
  sessionStartMs: number,
  markers: readonly TimedMarker[],
  lookaheadSeconds: number,
): string {
  const out = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(1, ...vod.segments.map((s) => Math.round(s.duration)))}`,
    `#EXT-X-MEDIA-SEQUENCE:${window.first}`,
  ];
  if (window.ended && window.first === 0) out.push('#EXT-X-PLAYLIST-TYPE:VOD');
  out.push('#EXT-X-INDEPENDENT-SEGMENTS');
  if (vod.mapUri) out.push(`#EXT-X-MAP:URI="${vod.mapUri}"`);
  out.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(sessionStartMs + timeline.starts[window.first]! * 1000)}`);
  const horizon = window.ended ? Infinity : timeline.starts[window.last]! + lookaheadSeconds;
  const from = timeline.starts[window.first]!;
  for (const m of markers) {
    if (m.start <= horizon && (m.end ?? m.start) >= from) out.push(dateRangeTag(m, sessionStartMs));
  }
  for (let i = window.first; i <= window.last; i++) {
    const s = vod.segments[i]!;
    out.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  }
  if (window.ended) out.push('#EXT-X-ENDLIST');
  return out.join('\n') + '\n';
}
