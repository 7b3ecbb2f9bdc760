/**
 * One rendition's Low-Latency HLS playlist while live (RFC 8216bis 4.4.4.9, 6.2.5): the regular
 * live window (`live-playlist.ts`: whole stored segments across periods, DVR length) with the
 * parts of its last few segments, the parts of the segment in progress, the hint of the next
 * part, and where the other renditions are. Pure: the window and the parts in, a playlist out.
 */
import type { LowLatency, MediaPlaylist, MediaSegment, PartialSegment } from './hls-playlist.ts';

export interface LowLatencyOptions {
  /** The segment target (s). */
  readonly segmentSeconds: number;
  /** The part target (s): EXT-X-PART-INF PART-TARGET. */
  readonly partSeconds: number;
}

/** The segment in progress: the URI it will have once whole, and its parts so far. */
export interface PendingSegment {
  readonly segmentUri: string;
  readonly parts: readonly PartialSegment[];
  /** The URI the next part will have (EXT-X-PRELOAD-HINT). */
  readonly nextPartUri: string;
}

/** Parts are listed for segments this many target durations from the end (RFC 8216bis 4.4.4.9: three). */
const PART_SEGMENTS_TARGETS = 3;

/**
 * `window` with LL-HLS: `partsOf(segmentUri)` gives the parts a listed segment was cut into (when
 * still known); `pending` is listed only when it is the segment right after the last one listed
 * (`nextSegmentUri`), as RFC 8216bis requires of parts after the last EXTINF. Between a segment's
 * close and its listing, its own parts stay the ones after the last EXTINF: the playlist only grows.
 */
export function lowLatencyPlaylist(
  window: MediaPlaylist,
  partsOf: (segmentUri: string) => readonly PartialSegment[] | undefined,
  pending: PendingSegment | undefined,
  nextSegmentUri: (segmentUri: string) => string | undefined,
  opts: LowLatencyOptions,
  renditionReports: LowLatency['renditionReports'] = [],
): MediaPlaylist {
  const segments = window.segments;
  let recent = 0;
  let fromIndex = segments.length;
  while (fromIndex > 0 && recent < PART_SEGMENTS_TARGETS * opts.segmentSeconds) {
    fromIndex -= 1;
    recent += segments[fromIndex]!.duration;
  }
  const listed: MediaSegment[] = segments.map((s, i) => {
    const parts = i >= fromIndex ? partsOf(s.uri) : undefined;
    return parts && parts.length > 0 ? { ...s, parts } : s;
  });
  const last = segments.at(-1);
  const after = last !== undefined ? nextSegmentUri(last.uri) : undefined;
  const follows = pending !== undefined && after !== undefined && after === pending.segmentUri;
  // A segment already closed but not listed yet (its storage write under way) keeps its parts
  // listed, so a reload never loses parts a player has already seen; the part after them is the
  // first of the segment in progress.
  const closing = !follows && after !== undefined ? partsOf(after) : undefined;
  const pendingParts = follows ? pending.parts : (closing ?? []);
  const preloadHint = follows
    ? pending.nextPartUri
    : closing && pending && nextSegmentUri(after!) === pending.segmentUri
      ? (pending.parts[0]?.uri ?? pending.nextPartUri)
      : undefined;
  return {
    ...window,
    segments: listed,
    lowLatency: {
      partTarget: opts.partSeconds,
      // Three part targets (Apple's advice; RFC 8216bis 4.4.3.8 requires at least two).
      partHoldBack: 3 * opts.partSeconds,
      pendingParts,
      ...(preloadHint !== undefined ? { preloadHint } : {}),
      renditionReports,
    },
  };
}

/** Where a rendition's LL playlist is, for the EXT-X-RENDITION-REPORT of the others. */
export function renditionReport(
  uri: string,
  playlist: MediaPlaylist,
): LowLatency['renditionReports'][number] {
  const whole = playlist.segments.length;
  const pending = playlist.lowLatency?.pendingParts.length ?? 0;
  const lastWhole = playlist.mediaSequence + whole - 1;
  if (pending > 0) return { uri, lastMsn: lastWhole + 1, lastPart: pending - 1 };
  const lastParts = playlist.segments.at(-1)?.parts?.length ?? 1;
  return { uri, lastMsn: Math.max(0, lastWhole), lastPart: Math.max(0, lastParts - 1) };
}
