import type { MediaPlaylist, MediaSegment } from './hls-playlist.ts';

/**
 * A live stream is a run of periods: one per encoder connection (and per worker takeover), each
 * written by its own ffmpeg with its own init segment and timestamps. This module stitches them
 * into one rendition playlist: a sliding window while live, everything once it ends (the replay).
 * Pure: the live job holds every period's playlist in memory and asks here what to publish.
 */
export interface LivePeriod {
  /** Folder name under the rendition, e.g. `p0002-3fa9`. */
  readonly name: string;
  /** The period's own playlist as ffmpeg wrote it (URIs relative to the period folder). */
  readonly playlist: MediaPlaylist;
  /** Wall-clock time (ms) of the period's first sample, for EXT-X-PROGRAM-DATE-TIME. */
  readonly startedAtMs: number;
}

/** Every segment of every period, URIs relative to the rendition folder, breaks marked. */
export function stitchPeriods(periods: readonly LivePeriod[]): MediaSegment[] {
  const out: MediaSegment[] = [];
  for (const period of periods) {
    let at = period.startedAtMs;
    period.playlist.segments.forEach((segment, i) => {
      out.push({
        uri: `${period.name}/${segment.uri}`,
        duration: segment.duration,
        ...(period.playlist.mapUri ? { mapUri: `${period.name}/${period.playlist.mapUri}` } : {}),
        // RFC 8216 4.3.2.3: a new period has new timestamps and a new init section.
        ...(i === 0 && out.length > 0 ? { discontinuity: true } : {}),
        programDateTime: new Date(Math.round(at)).toISOString(),
      });
      at += segment.duration * 1000;
    });
  }
  return out;
}

export interface LiveWindowOptions {
  /** How far back viewers may seek (the DVR window), in seconds. */
  readonly windowSeconds: number;
  /** Never fewer segments than this (RFC 8216 6.2.2 wants at least three target durations). */
  readonly minSegments: number;
  readonly segmentSeconds: number;
}

/** The live playlist: the last `windowSeconds` of the stitched segments, or all of them once ended. */
export function liveMediaPlaylist(
  all: readonly MediaSegment[],
  ended: boolean,
  opts: LiveWindowOptions,
): MediaPlaylist {
  let first = 0;
  if (!ended) {
    let seconds = 0;
    first = all.length;
    while (first > 0 && (seconds < opts.windowSeconds || all.length - first < opts.minSegments)) {
      first -= 1;
      seconds += all[first]!.duration;
    }
  }
  const listed = all.slice(first);
  const discontinuitySequence = all.slice(0, first).filter((s) => s.discontinuity).length;
  return {
    targetDuration: Math.ceil(opts.segmentSeconds),
    mediaSequence: first,
    ...(discontinuitySequence > 0 ? { discontinuitySequence } : {}),
    ...(ended ? { playlistType: 'EVENT' as const } : {}),
    segments: listed,
    ended,
  };
}

/** A period's folder name: its place in the stream and a tag of the worker run that made it. */
export function periodName(index: number, tag: string): string {
  return `p${String(index).padStart(4, '0')}-${tag}`;
}

/**
 * The wall clock of a period's first sample. ffmpeg stamps EXT-X-PROGRAM-DATE-TIME from its own
 * start-up, not from the media, so the live job takes the moment the first segment of the period's
 * top rendition was finished (`finishedAtMs` of that URI, from the segment sink) minus its duration.
 * Undefined until that segment is known.
 */
export function periodAnchorMs(
  topPlaylist: MediaPlaylist,
  finishedAtMs: (uri: string) => number | undefined,
): number | undefined {
  const first = topPlaylist.segments[0];
  if (!first) return undefined;
  const finished = finishedAtMs(first.uri);
  return finished === undefined ? undefined : finished - first.duration * 1000;
}

/** Seconds of the stream lost between periods (reconnects, takeovers), from their anchors. */
export function droppedSeconds(periods: readonly LivePeriod[]): number {
  let lost = 0;
  for (let i = 1; i < periods.length; i++) {
    const before = periods[i - 1]!;
    const end = before.startedAtMs + before.playlist.segments.reduce((s, x) => s + x.duration, 0) * 1000;
    lost += Math.max(0, periods[i]!.startedAtMs - end) / 1000;
  }
  return lost;
}

/** What survives a worker: each period's name and, once its first segment is in, its anchor. */
export interface PeriodRecord {
  readonly name: string;
  readonly startedAtMs?: number;
}

/**
 * The live job's picture of the stream, in memory: the periods in order, and each rendition's
 * latest publishable playlist per period. A takeover rebuilds it from storage (`PeriodRecord`s and
 * the stored period playlists) and carries on with a new period.
 */
export class LiveTimeline {
  readonly #periods: { name: string; startedAtMs: number | undefined }[] = [];
  /** `<rendition>/<period>` → that period's playlist of the rendition. */
  readonly #playlists = new Map<string, MediaPlaylist>();

  constructor(
    /** Every rendition, the top rung first (it anchors the periods). */
    readonly renditions: readonly string[],
    periods: readonly PeriodRecord[] = [],
  ) {
    for (const p of periods) this.#periods.push({ name: p.name, startedAtMs: p.startedAtMs });
  }

  get top(): string {
    return this.renditions[0]!;
  }

  get records(): PeriodRecord[] {
    return this.#periods.map((p) =>
      p.startedAtMs === undefined ? { name: p.name } : { name: p.name, startedAtMs: p.startedAtMs },
    );
  }

  /** The period being written now (the last one begun), if any. */
  get current(): string | undefined {
    return this.#periods.at(-1)?.name;
  }

  has(period: string): boolean {
    return this.#periods.some((p) => p.name === period);
  }

  begin(period: string): void {
    if (this.has(period)) throw new Error(`period ${period} exists already`);
    this.#periods.push({ name: period, startedAtMs: undefined });
  }

  anchorOf(period: string): number | undefined {
    return this.#periods.find((p) => p.name === period)?.startedAtMs;
  }

  anchor(period: string, startedAtMs: number): void {
    const p = this.#periods.find((x) => x.name === period);
    if (!p) throw new Error(`unknown period ${period}`);
    p.startedAtMs ??= startedAtMs;
  }

  playlist(rendition: string, period: string): MediaPlaylist | undefined {
    return this.#playlists.get(`${rendition}/${period}`);
  }

  /**
   * Takes a period's newer playlist of one rendition. ffmpeg does not wait for one playlist PUT to
   * be answered before the next, so an older one can arrive last: false when `playlist` lists fewer
   * segments than the one held (or as many, without the end the held one has), and nothing changes.
   */
  update(rendition: string, period: string, playlist: MediaPlaylist): boolean {
    if (!this.has(period)) return false;
    const held = this.playlist(rendition, period);
    if (held) {
      const fewer = playlist.segments.length < held.segments.length;
      const same = playlist.segments.length === held.segments.length && (held.ended || !playlist.ended);
      if (fewer || same) return false;
    }
    this.#playlists.set(`${rendition}/${period}`, playlist);
    return true;
  }

  /** The periods of a rendition that can be listed: anchored, with at least one segment. */
  periodsOf(rendition: string): LivePeriod[] {
    const out: LivePeriod[] = [];
    for (const p of this.#periods) {
      const playlist = this.playlist(rendition, p.name);
      if (p.startedAtMs === undefined || !playlist || playlist.segments.length === 0) continue;
      out.push({ name: p.name, playlist, startedAtMs: p.startedAtMs });
    }
    return out;
  }

  /** Every listed segment of a rendition, periods stitched (URIs relative to the rendition folder). */
  segments(rendition: string): MediaSegment[] {
    return stitchPeriods(this.periodsOf(rendition));
  }

  /** The rendition's live playlist now: the window while live, everything once `ended`. */
  window(rendition: string, ended: boolean, opts: LiveWindowOptions): MediaPlaylist | undefined {
    const all = this.segments(rendition);
    return all.length > 0 ? liveMediaPlaylist(all, ended, opts) : undefined;
  }

  /** The rendition's complete recording (every period), for the replay. */
  recording(rendition: string): MediaPlaylist {
    return { targetDuration: 0, mediaSequence: 0, segments: this.segments(rendition), ended: true };
  }
}
