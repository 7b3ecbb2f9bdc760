import type { MediaPlaylist, MediaSegment } from './hls-playlist.ts';

/**
 * A live stream is a run of periods: one per encoder connection (and per worker takeover), each
 * written by its own ffmpeg with its own init segment and timestamps. This module stitches them
 * into one rendition playlist: a sliding window while live, everything once it ends (the replay).
 */
export interface LivePeriod {
  /** Folder name under the rendition, e.g. `p0002`. */
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
