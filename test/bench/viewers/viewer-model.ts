/**
 * One simulated viewer of a live HLS stream, behaving like hls.js with onair's player settings.
 * Pure: times are passed in (ms, wall clock), requests come out as data and their answers go back
 * in; the I/O (sockets, timers) lives in viewer-thread.ts. No allocation per call on the hot paths
 * beyond the request objects: thousands of these run per thread.
 *
 * What it mimics (hls.js 1.7, `player/player.ts` LIVE_HLS_CONFIG):
 * - start at `liveSyncDurationCount` target durations from the end of the first playlist;
 * - reload each playlist about once per target duration, half that when the last reload brought
 *   nothing new (RFC 8216 6.3.4), timed from when the previous reload was sent; with
 *   CAN-BLOCK-RELOAD a blocking reload for the next media sequence number instead;
 * - fetch every segment in order, one at a time per rendition, init segment first when it changes;
 * - play at up to `maxLiveSyncPlaybackRate` while behind the target latency, which grows by
 *   `liveSyncOnStallIncrease` per stall (at most one target duration);
 * - seek back to the live sync point when further than `liveMaxLatencyDurationCount` target
 *   durations behind, or outside the playlist's window.
 * A viewer follows two renditions with onair's master playlists: its video rung and the alternate
 * audio, whose segments need not line up (audio is cut every LIVE_SEGMENT_SECONDS, video at the
 * presenter's keyframes). So everything is placed on one media clock, the wall clock of
 * EXT-X-PROGRAM-DATE-TIME shared by all renditions: the playhead is a clock time, each rendition's
 * buffer ends at a clock time, and playback needs every rendition past the playhead (as MSE's
 * buffered ranges do). Gaps between periods (a presenter reconnecting) are played through.
 */
import type { MediaPlaylist } from '../../../pipelines/hls-playlist.ts';

/** The hls.js settings the model follows. */
export interface HlsSettings {
  readonly liveSyncDurationCount: number;
  readonly liveMaxLatencyDurationCount: number;
  readonly maxLiveSyncPlaybackRate: number;
  /** Seconds added to the target latency per stall (hls.js default 1), capped at one target duration. */
  readonly liveSyncOnStallIncrease: number;
  /** Wait before asking again after a failed request. */
  readonly retryDelayMs: number;
}

/** onair's live player (player/player.ts LIVE_HLS_CONFIG) on top of hls.js defaults. */
export const ONAIR_LIVE_PLAYER: HlsSettings = {
  liveSyncDurationCount: 1.5,
  liveMaxLatencyDurationCount: 6,
  maxLiveSyncPlaybackRate: 1.1,
  liveSyncOnStallIncrease: 1,
  retryDelayMs: 1000,
};

/** A segment as the model needs it; shared (read-only) by every viewer of the same playlist. */
export interface LiveSegment {
  /** Media sequence number. */
  readonly msn: number;
  /** Request path (absolute, resolved against the playlist's URL). */
  readonly path: string;
  readonly durationMs: number;
  /**
   * Start on the media clock: the wall clock of EXT-X-PROGRAM-DATE-TIME (carried by durations
   * from the nearest stamped segment); in a playlist without any stamp, the first segment starts at
   * msn × target duration and the others follow by duration.
   */
  readonly startMs: number;
  /** The init segment (EXT-X-MAP) in effect for this segment, as a request path. */
  readonly mapPath: string | undefined;
  readonly discontinuity: boolean;
}

/** A media playlist prepared once per distinct body and shared by every viewer that got it. */
export interface LivePlaylist {
  readonly targetDurationMs: number;
  /** Media sequence number of `segments[0]`. */
  readonly firstMsn: number;
  readonly segments: readonly LiveSegment[];
  readonly ended: boolean;
  /** EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES: reloads ask for the next msn and wait for it. */
  readonly canBlockReload: boolean;
  /** End of the newest segment on the media clock (the live edge this playlist shows). */
  readonly edgeMs: number;
}

/** `uri` resolved against the folder `dir` (ends with `/`) of the playlist's path. */
function resolvePath(dir: string, uri: string): string {
  if (uri.startsWith('/')) return uri;
  if (/^[a-z]+:\/\//i.test(uri)) return new URL(uri).pathname;
  return dir + uri;
}

/**
 * Prepares a parsed media playlist for the model: absolute request paths, media clock times (RFC
 * 8216 4.3.2.6: a PROGRAM-DATE-TIME applies to its segment, the ones after it follow by duration;
 * segments before the first stamp are placed back from it), and the init segment in effect for
 * each segment. `playlistPath` is the path it was fetched from, `text` its body.
 */
export function prepareLivePlaylist(playlist: MediaPlaylist, playlistPath: string, text = ''): LivePlaylist {
  const dir = playlistPath.slice(0, playlistPath.lastIndexOf('/') + 1);
  const targetDurationMs = Math.max(1, playlist.targetDuration) * 1000;
  const listed = playlist.segments;
  const stamps = listed.map((s) =>
    s.programDateTime === undefined ? Number.NaN : Date.parse(s.programDateTime),
  );
  const firstStamped = stamps.findIndex(Number.isFinite);
  // The clock at the first segment: from the first stamp back, or msn × target duration without any.
  let clock =
    firstStamped < 0
      ? playlist.mediaSequence * targetDurationMs
      : stamps[firstStamped]! - listed.slice(0, firstStamped).reduce((t, s) => t + s.duration * 1000, 0);
  let map = playlist.mapUri === undefined ? undefined : resolvePath(dir, playlist.mapUri);
  const segments: LiveSegment[] = listed.map((s, i) => {
    if (s.mapUri !== undefined) map = resolvePath(dir, s.mapUri);
    if (Number.isFinite(stamps[i])) clock = stamps[i]!;
    const durationMs = s.duration * 1000;
    const segment: LiveSegment = {
      msn: playlist.mediaSequence + i,
      path: resolvePath(dir, s.uri),
      durationMs,
      startMs: clock,
      mapPath: map,
      discontinuity: s.discontinuity === true,
    };
    clock += durationMs;
    return segment;
  });
  const last = segments.at(-1);
  return {
    targetDurationMs,
    firstMsn: playlist.mediaSequence,
    segments,
    ended: playlist.ended,
    canBlockReload: /^#EXT-X-SERVER-CONTROL:.*CAN-BLOCK-RELOAD=YES/m.test(text),
    edgeMs: last ? last.startMs + last.durationMs : Number.NEGATIVE_INFINITY,
  };
}

export function lastMsn(playlist: LivePlaylist): number {
  return playlist.firstMsn + playlist.segments.length - 1;
}

function segmentOf(playlist: LivePlaylist, msn: number): LiveSegment | undefined {
  return playlist.segments[msn - playlist.firstMsn];
}

/**
 * The live sync point: `holdBackMs` (at least one target duration) before the end of the playlist
 * (hls.js `liveSyncPosition` on a freshly loaded playlist), as the segment that holds it and the
 * offset into that segment; the first segment when the playlist is shorter.
 */
export function liveSyncPoint(
  playlist: LivePlaylist,
  holdBackMs: number,
): { segment: LiveSegment; offsetMs: number } | undefined {
  const { segments } = playlist;
  if (segments.length === 0) return undefined;
  // hls.js keeps the sync position at least one target duration from the end.
  let remaining = Math.max(holdBackMs, playlist.targetDurationMs);
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i]!;
    if (remaining <= s.durationMs || i === 0) {
      return { segment: s, offsetMs: Math.max(0, s.durationMs - remaining) };
    }
    remaining -= s.durationMs;
  }
  return undefined;
}

/**
 * hls.js's reload interval (base-playlist-controller `computeReloadInterval`): one target duration,
 * or the last segment's duration when shorter and the buffer is within four target durations of
 * the edge; half a target duration when the reload brought nothing new.
 */
export function reloadIntervalMs(playlist: LivePlaylist, updated: boolean, distanceToEdgeMs: number): number {
  let interval = playlist.targetDurationMs;
  if (!updated) return Math.round(interval / 2);
  const last = playlist.segments.at(-1);
  if (last && interval * 4 > distanceToEdgeMs && last.durationMs < interval) interval = last.durationMs;
  return Math.round(interval);
}

/**
 * hls.js's catch-up rate (latency-controller): a logistic curve of the distance to the target
 * latency, in steps of 0.05, between 1 and `maxRate`; only while that distance is below
 * min(max latency, target latency + one target duration) (further is "DVR playback") and with more
 * than 1 s of buffer ahead.
 */
export function catchUpRate(
  latencyMs: number,
  targetLatencyMs: number,
  targetDurationMs: number,
  maxLatencyMs: number,
  forwardBufferMs: number,
  maxRate: number,
): number {
  const distance = (latencyMs - targetLatencyMs) / 1000;
  const inLiveRange = distance < Math.min(maxLatencyMs, targetLatencyMs + targetDurationMs) / 1000;
  if (!inLiveRange || distance <= 0.05 || forwardBufferMs <= 1000) return 1;
  const rate = Math.round((2 / (1 + Math.exp(-0.75 * distance))) * 20) / 20;
  return Math.min(Math.min(2, Math.max(1, maxRate)), Math.max(1, rate));
}

/**
 * Which variant (index into the master playlist's, top first) viewer `index` picks, for a mix of
 * `weights` over the variants (extra weights ignored, missing ones 0). Deterministic and evenly
 * spread: any run of consecutive viewers matches the mix to within one viewer per variant
 * (a golden-ratio sequence), so the first 200 joiners already have the mix of the full 10,000.
 */
export function pickVariant(index: number, variantCount: number, weights: readonly number[]): number {
  const used = Array.from({ length: variantCount }, (_, i) => Math.max(0, weights[i] ?? 0));
  const total = used.reduce((a, b) => a + b, 0);
  if (variantCount <= 1 || total <= 0) return 0;
  const u = (index * 0.6180339887498949 + 0.5) % 1;
  let cumulative = 0;
  for (let i = 0; i < variantCount; i++) {
    cumulative += used[i]! / total;
    if (u < cumulative) return i;
  }
  return variantCount - 1;
}

export type ViewerRequest =
  | { readonly kind: 'master' }
  /** `msn`: a blocking reload (`_HLS_msn`), for playlists that allow it. */
  | { readonly kind: 'playlist'; readonly track: number; readonly msn: number | undefined }
  | { readonly kind: 'init'; readonly track: number; readonly path: string }
  | { readonly kind: 'segment'; readonly track: number; readonly segment: LiveSegment };

interface TrackState {
  playlist: LivePlaylist | undefined;
  /** When the playlist last showed something new (hls.js `advancedDateTime`, for its age). */
  advancedAt: number;
  nextReloadAt: number;
  /** The last loaded init segment. */
  initPath: string | undefined;
  /** Next segment to fetch, in this rendition's numbering. */
  nextMsn: number;
  /** Media clock end of what has fully arrived, contiguously from the playhead on. */
  bufferedEndMs: number;
  /** A failed segment or init is asked again from then on. */
  retryAt: number;
}

export interface ViewerCounts {
  /** Times playback needed a segment that had not fully arrived. */
  stalls: number;
  /** Time spent stalled (an ongoing stall counts up to the last `advance`/`finish`). */
  stalledMs: number;
  /** Stalls that lasted VISIBLE_STALL_MS or more (counted once they have). */
  visibleStalls: number;
  /** Seeks back to the live sync point (too far behind, or out of the window). */
  resyncs: number;
  /** Playlists whose media sequence went backwards (a restarted stream), re-matched by clock. */
  sequenceResets: number;
  failedRequests: number;
  /** Playlist reloads, and those that listed nothing new (a stale copy, or asked too early). */
  reloads: number;
  unchangedReloads: number;
}

/** Phases: waiting to join, loading the master playlist, then the renditions and playback. */
type Phase = 'waiting' | 'master' | 'live';

/** Float slack when comparing media clock times (ms): a buffer this close to empty is not a stall. */
const EPSILON_MS = 0.5;
/**
 * A stall this long is one a viewer sees, and the one hls.js itself reports (BUFFER_STALLED_ERROR
 * after STALL_MINIMUM_DURATION_MS of no progress). Shorter ones (a segment a few ms after the buffer
 * ran out) are counted as stalls too, but may not even drop a frame.
 */
export const VISIBLE_STALL_MS = 250;
/** How often the playback rate is reconsidered (hls.js: on `timeupdate`, about every 250 ms). */
const RATE_STEP_MS = 250;

/**
 * The segment of `playlist` that holds media clock time `ms`: the last one starting at or before
 * it, or the first one when `ms` is before the window; undefined when empty.
 */
export function segmentAtClock(playlist: LivePlaylist, ms: number): LiveSegment | undefined {
  const { segments } = playlist;
  let found = segments[0];
  for (const s of segments) {
    if (s.startMs > ms + EPSILON_MS) break;
    found = s;
  }
  return found;
}

export class ViewerModel {
  readonly counts: ViewerCounts = {
    stalls: 0,
    stalledMs: 0,
    visibleStalls: 0,
    resyncs: 0,
    sequenceResets: 0,
    failedRequests: 0,
    reloads: 0,
    unchangedReloads: 0,
  };
  #phase: Phase = 'waiting';
  #tracks: TrackState[] = [];
  /** One request at a time: a viewer has one connection (see viewer-thread.ts). */
  #busy = false;
  #masterRetryAt = 0;
  /** The start point is decided (from the first playlist of track 0, the video rendition). */
  #decided = false;
  #playing = false;
  #startedAt: number | undefined;
  /** The playhead on the media clock. */
  #playheadMs = 0;
  #rate = 1;
  #lastAdvanceAt = 0;
  /** Counted up to here (moves on at each checkpoint while the stall goes on). */
  #stalledSince: number | undefined;
  /** When the ongoing stall began, and whether it already counts as visible. */
  #stallBeganAt = 0;
  #stallVisible = false;

  constructor(
    readonly joinAt: number,
    readonly settings: HlsSettings = ONAIR_LIVE_PLAYER,
  ) {}

  get playing(): boolean {
    return this.#playing;
  }
  get stalled(): boolean {
    return this.#stalledSince !== undefined;
  }
  get startedAt(): number | undefined {
    return this.#startedAt;
  }
  get playbackRate(): number {
    return this.#rate;
  }
  /** The playhead on the media clock (undefined before playback starts). */
  get playheadMs(): number | undefined {
    return this.#playing ? this.#playheadMs : undefined;
  }

  /** The media clock end of what every rendition has buffered ahead of the playhead. */
  bufferEndMs(): number | undefined {
    if (!this.#decided) return undefined;
    let end = Number.POSITIVE_INFINITY;
    for (const t of this.#tracks) end = Math.min(end, t.bufferedEndMs);
    return end;
  }

  /**
   * How far behind the live edge: `edgeMs` (the end of the newest segment, per the freshest
   * playlist known) minus the playhead; undefined before playback starts.
   */
  behindEdgeMs(edgeMs: number): number | undefined {
    return this.#playing ? edgeMs - this.#playheadMs : undefined;
  }

  /** Earliest time something new may be due without an answer arriving first. */
  nextWakeAt(): number {
    if (this.#busy) return Number.POSITIVE_INFINITY;
    if (this.#phase === 'waiting') return this.joinAt;
    if (this.#phase === 'master') return this.#masterRetryAt;
    let wake = Number.POSITIVE_INFINITY;
    for (const t of this.#tracks) {
      if (!t.playlist?.ended) wake = Math.min(wake, t.nextReloadAt);
      if (t.retryAt > 0) wake = Math.min(wake, t.retryAt);
    }
    return wake;
  }

  /**
   * The request to send now, if any (the viewer is then busy until its answer comes back through
   * one of the `on...` methods): plain playlist reloads first, then the next segment of the
   * rendition whose buffer ends first, then blocking reloads.
   */
  wants(now: number): ViewerRequest | undefined {
    if (this.#busy) return undefined;
    const request = this.#choose(now);
    if (request) this.#busy = true;
    return request;
  }

  #choose(now: number): ViewerRequest | undefined {
    if (this.#phase === 'waiting') {
      if (now < this.joinAt) return undefined;
      this.#phase = 'master';
    }
    if (this.#phase === 'master') return now >= this.#masterRetryAt ? { kind: 'master' } : undefined;
    // A blocking reload waits at the server for the next segment: it goes after every segment
    // already listed (one connection), a plain one before (small, and it says what comes next).
    for (let i = 0; i < this.#tracks.length; i++) {
      const t = this.#tracks[i]!;
      if (t.playlist?.ended || now < t.nextReloadAt || t.playlist?.canBlockReload) continue;
      return { kind: 'playlist', track: i, msn: undefined };
    }
    const fetch = this.#decided ? this.#nextFetch(now) : undefined;
    if (fetch) return fetch;
    // With one connection, blocking reloads take turns: the track whose playlist ends earliest on
    // the media clock goes first (hls.js holds one per track at once; always the first would
    // starve the audio).
    let blocking = -1;
    for (let i = 0; i < this.#tracks.length; i++) {
      const t = this.#tracks[i]!;
      if (!t.playlist?.canBlockReload || t.playlist.ended || now < t.nextReloadAt) continue;
      if (blocking < 0 || t.playlist.edgeMs < this.#tracks[blocking]!.playlist!.edgeMs) blocking = i;
    }
    if (blocking < 0) return undefined;
    return { kind: 'playlist', track: blocking, msn: lastMsn(this.#tracks[blocking]!.playlist!) + 1 };
  }

  #nextFetch(now: number): ViewerRequest | undefined {
    let pick: TrackState | undefined;
    let track = -1;
    for (let i = 0; i < this.#tracks.length; i++) {
      const t = this.#tracks[i]!;
      if (!t.playlist || now < t.retryAt || t.nextMsn > lastMsn(t.playlist)) continue;
      if (!pick || t.bufferedEndMs < pick.bufferedEndMs) {
        pick = t;
        track = i;
      }
    }
    if (!pick) return undefined;
    const segment = segmentOf(pick.playlist!, pick.nextMsn);
    if (!segment) return undefined;
    pick.retryAt = 0;
    if (segment.mapPath !== undefined && segment.mapPath !== pick.initPath) {
      return { kind: 'init', track, path: segment.mapPath };
    }
    return { kind: 'segment', track, segment };
  }

  /** The master playlist arrived: `tracks` renditions to follow (the chosen video rung, audio). */
  onMaster(tracks: number, now: number): void {
    this.#busy = false;
    this.#phase = 'live';
    this.#tracks = Array.from({ length: Math.max(1, tracks) }, () => ({
      playlist: undefined,
      advancedAt: now,
      nextReloadAt: now,
      initPath: undefined,
      nextMsn: 0,
      bufferedEndMs: Number.NEGATIVE_INFINITY,
      retryAt: 0,
    }));
  }

  /** A request failed (connection error, timeout, an answer other than 200): ask again later. */
  onFailure(request: ViewerRequest, now: number): void {
    this.#busy = false;
    this.counts.failedRequests += 1;
    const retryAt = now + this.settings.retryDelayMs;
    if (request.kind === 'master') this.#masterRetryAt = retryAt;
    else if (request.kind === 'playlist') this.#tracks[request.track]!.nextReloadAt = retryAt;
    else this.#tracks[request.track]!.retryAt = retryAt;
  }

  /** A media playlist of `track` arrived; `sentAt` is when its request went out. */
  onPlaylist(track: number, playlist: LivePlaylist, sentAt: number, now: number): void {
    this.#busy = false;
    this.advance(now);
    const t = this.#tracks[track]!;
    const before = t.playlist;
    const last = lastMsn(playlist);
    const updated = !before || last > lastMsn(before) || playlist.ended !== before.ended;
    t.playlist = playlist;
    if (updated) t.advancedAt = now;
    if (before) {
      this.counts.reloads += 1;
      if (!updated) this.counts.unchangedReloads += 1;
    }
    if (before !== undefined && last < lastMsn(before)) {
      // Numbered anew (a restarted stream): find the data after the buffer by its clock instead.
      this.counts.sequenceResets += 1;
      if (this.#decided) t.nextMsn = this.#msnFrom(playlist, t.bufferedEndMs);
    }

    if (track === 0 && !this.#decided) this.#seekToLiveSync(now);
    else if (track === 0 && this.#tooFarBehind(playlist)) {
      this.counts.resyncs += 1;
      this.#seekToLiveSync(now);
    } else if (this.#decided && before === undefined) {
      // A rendition whose first playlist comes after the start point was chosen.
      t.nextMsn = this.#msnFrom(playlist, this.#playheadMs);
      t.bufferedEndMs = segmentOf(playlist, t.nextMsn)?.startMs ?? this.#playheadMs;
    }

    if (playlist.canBlockReload) {
      t.nextReloadAt = now;
    } else {
      const distance = playlist.edgeMs - (this.#decided ? t.bufferedEndMs : playlist.edgeMs);
      t.nextReloadAt = sentAt + reloadIntervalMs(playlist, updated, distance);
    }
  }

  onInit(track: number, path: string): void {
    this.#busy = false;
    this.#tracks[track]!.initPath = path;
  }

  /** Segment `msn` of `track` has fully arrived (time to last byte). */
  onSegment(track: number, segment: LiveSegment, now: number): void {
    this.#busy = false;
    this.advance(now);
    const t = this.#tracks[track]!;
    // An answer for a segment the viewer no longer wants (it seeked meanwhile) fills nothing.
    if (segment.msn !== t.nextMsn) return;
    t.nextMsn = segment.msn + 1;
    t.bufferedEndMs = segment.startMs + segment.durationMs;
    this.#maybeResume(now);
  }

  /**
   * Plays from the last call up to `now`, consuming the buffer; a stall starts at the exact moment
   * the buffer ran dry (not when it is noticed). The rate is chosen afresh every RATE_STEP_MS, as
   * hls.js does on each `timeupdate`.
   */
  advance(now: number): void {
    if (!this.#playing || this.#stalledSince !== undefined || now <= this.#lastAdvanceAt) {
      if (this.#stalledSince === undefined) this.#lastAdvanceAt = Math.max(this.#lastAdvanceAt, now);
      return;
    }
    const available = this.bufferEndMs()!;
    let t = this.#lastAdvanceAt;
    while (t < now) {
      const step = Math.min(now - t, RATE_STEP_MS);
      this.#rate = this.#computeRate(t);
      const media = step * this.#rate;
      if (this.#playheadMs + media <= available + EPSILON_MS) {
        this.#playheadMs = Math.min(this.#playheadMs + media, available);
        t += step;
        continue;
      }
      const ranDryAt = t + Math.max(0, available - this.#playheadMs) / this.#rate;
      this.#playheadMs = available;
      if (!this.#atEnd()) {
        this.#stalledSince = ranDryAt;
        this.#stallBeganAt = ranDryAt;
        this.#stallVisible = false;
        this.counts.stalls += 1;
      }
      break;
    }
    this.#lastAdvanceAt = now;
  }

  /** Plays up to `now` and counts an ongoing stall up to then (the end of a run, or a checkpoint). */
  finish(now: number): void {
    this.advance(now);
    if (this.#stalledSince !== undefined) {
      this.#countStall(now);
      this.#stalledSince = now;
    }
  }

  /** Adds the ongoing stall's time up to `now` (the stall may go on). */
  #countStall(now: number): void {
    this.counts.stalledMs += Math.max(0, now - this.#stalledSince!);
    if (!this.#stallVisible && now - this.#stallBeganAt >= VISIBLE_STALL_MS) {
      this.#stallVisible = true;
      this.counts.visibleStalls += 1;
    }
  }

  /** The stream ended and everything of it has been played. */
  #atEnd(): boolean {
    return this.#tracks.every(
      (t) => t.playlist?.ended === true && t.bufferedEndMs >= t.playlist.edgeMs - EPSILON_MS,
    );
  }

  /** The first segment holding media at or after `ms` (the one it falls in). */
  #msnFrom(playlist: LivePlaylist, ms: number): number {
    const s = segmentAtClock(playlist, ms);
    if (!s) return playlist.firstMsn;
    return s.startMs + s.durationMs <= ms + EPSILON_MS ? s.msn + 1 : s.msn;
  }

  #targetLatencyMs(): number {
    const td = this.#tracks[0]?.playlist?.targetDurationMs ?? 0;
    const stall = Math.min(this.counts.stalls * this.settings.liveSyncOnStallIncrease * 1000, td);
    return this.settings.liveSyncDurationCount * td + stall;
  }

  #computeRate(now: number): number {
    const t0 = this.#tracks[0]!;
    const video = t0.playlist!;
    const latency = video.edgeMs + (now - t0.advancedAt) - this.#playheadMs;
    return catchUpRate(
      latency,
      this.#targetLatencyMs(),
      video.targetDurationMs,
      this.settings.liveMaxLatencyDurationCount * video.targetDurationMs,
      (this.bufferEndMs() ?? this.#playheadMs) - this.#playheadMs,
      this.settings.maxLiveSyncPlaybackRate,
    );
  }

  /** hls.js `synchronizeToLiveEdge`: behind by more than the max latency (or out of the window). */
  #tooFarBehind(video: LivePlaylist): boolean {
    if (!this.#decided) return false;
    const maxLatency = this.settings.liveMaxLatencyDurationCount * video.targetDurationMs;
    const windowStart = video.segments[0]?.startMs ?? Number.NEGATIVE_INFINITY;
    return this.#playheadMs < video.edgeMs - maxLatency || this.#playheadMs < windowStart - EPSILON_MS;
  }

  /** Moves the playhead to the live sync point of track 0's playlist and fetches from there. */
  #seekToLiveSync(now: number): void {
    const video = this.#tracks[0]!.playlist!;
    const sync = liveSyncPoint(video, this.#targetLatencyMs());
    if (!sync) return;
    this.#decided = true;
    this.#playheadMs = sync.segment.startMs + sync.offsetMs;
    for (const t of this.#tracks) {
      t.retryAt = 0;
      if (!t.playlist) continue; // placed when its first playlist arrives
      t.nextMsn = this.#msnFrom(t.playlist, this.#playheadMs);
      t.bufferedEndMs = segmentOf(t.playlist, t.nextMsn)?.startMs ?? this.#playheadMs;
    }
    if (this.#playing) {
      // Seeking: playback waits for data at the new position; that wait is a stall if it is one.
      if (this.#stalledSince !== undefined) {
        this.#countStall(now);
        this.#stalledSince = undefined;
      }
      this.#lastAdvanceAt = now;
      this.advance(now);
    }
  }

  #maybeResume(now: number): void {
    if (!this.#decided) return;
    const available = this.bufferEndMs()!;
    if (available <= this.#playheadMs + EPSILON_MS) return;
    if (!this.#playing) {
      this.#playing = true;
      this.#startedAt = now;
      this.#lastAdvanceAt = now;
      return;
    }
    if (this.#stalledSince !== undefined) {
      this.#countStall(now);
      this.#stalledSince = undefined;
      this.#lastAdvanceAt = now;
    }
  }
}
