/**
 * Cuts one rendition's fragmented MP4 stream (ffmpeg writing `-f mp4 -movflags
 * frag_keyframe+empty_moov+default_base_moof -frag_duration <part>` to a pipe) into what
 * Low-Latency HLS serves (RFC 8216bis section 4.4.4.9, EXT-X-PART): the init section, partial
 * segments (one `moof`+`mdat` fragment each, `INDEPENDENT` when it starts on a keyframe) as soon as
 * each is complete, and media segments made of whole parts, each starting on the first keyframe at
 * or after the next multiple of the target length. Pure: bytes in, events out.
 */
import { parseInit, parseMoof, readBoxes, type TrackInfo } from './fmp4.ts';

export interface PackagerOptions {
  /** Segment target length (s): a segment is closed at the first keyframe at or after it. */
  readonly segmentSeconds: number;
  /** Track whose timeline measures parts and segments (default: the first video track). */
  readonly referenceTrack?: number;
}

export interface InitEvent {
  readonly type: 'init';
  readonly bytes: Uint8Array;
  readonly tracks: readonly TrackInfo[];
}

export interface PartEvent {
  readonly type: 'part';
  /** Media sequence number of the segment this part belongs to. */
  readonly msn: number;
  /** Index of the part within its segment (0-based). */
  readonly index: number;
  /** Seconds, on the reference track. */
  readonly duration: number;
  /** Decode time (s) of the part's first sample on the reference track. */
  readonly decodeTime: number;
  readonly independent: boolean;
  readonly bytes: Uint8Array;
}

export interface SegmentEvent {
  readonly type: 'segment';
  readonly msn: number;
  readonly duration: number;
  readonly decodeTime: number;
  /** The segment's bytes: its parts, in order. */
  readonly bytes: Uint8Array;
  readonly parts: number;
}

export type PackagerEvent = InitEvent | PartEvent | SegmentEvent;

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A keyframe may come this much (s) before the target and still close the segment (frame rounding). */
const EARLY_CUT_SECONDS = 0.05;

export class FragmentedMp4Packager {
  readonly #segmentSeconds: number;
  #referenceTrack: number | undefined;
  #pending: Uint8Array[] = [];
  #tracks: TrackInfo[] | undefined;
  #initBoxes: Uint8Array[] = [];
  /** A moof waiting for its mdat. */
  #moof: Uint8Array | undefined;
  #msn: number;
  #parts: PartEvent[] = [];
  #segmentStart: number | undefined;
  /** Decode time of the stream's first part: the segment grid starts there. */
  #origin: number | undefined;
  #nextDecodeTime: number | undefined;

  constructor(options: PackagerOptions, firstMsn = 0) {
    this.#segmentSeconds = options.segmentSeconds;
    this.#referenceTrack = options.referenceTrack;
    this.#msn = firstMsn;
  }

  /** Tracks of the init section, once it has arrived. */
  get tracks(): readonly TrackInfo[] | undefined {
    return this.#tracks;
  }

  /** Where the reference track's timeline jumped (decode time not where the previous part ended). */
  gaps = 0;

  push(chunk: Uint8Array): PackagerEvent[] {
    this.#pending.push(chunk);
    const buf = concat(this.#pending);
    const { boxes, rest } = readBoxes(buf);
    this.#pending = rest < buf.length ? [buf.subarray(rest)] : [];
    const events: PackagerEvent[] = [];
    for (const box of boxes) {
      const bytes = buf.subarray(box.start, box.end);
      if (!this.#tracks) {
        if (box.type === 'moof' || box.type === 'mdat')
          throw new Error('fmp4: media before the init section');
        this.#initBoxes.push(bytes.slice());
        if (box.type === 'moov') {
          const init = concat(this.#initBoxes);
          this.#tracks = parseInit(init);
          this.#referenceTrack ??= (this.#tracks.find((t) => t.handler === 'vide') ?? this.#tracks[0])?.id;
          events.push({ type: 'init', bytes: init, tracks: this.#tracks });
        }
        continue;
      }
      if (box.type === 'moof') this.#moof = bytes.slice();
      else if (box.type === 'mdat') {
        if (!this.#moof) throw new Error('fmp4: mdat without moof');
        events.push(...this.#fragment(this.#moof, bytes));
        this.#moof = undefined;
      }
      // styp, sidx, prft, mfra (at the end): nothing a part needs.
    }
    return events;
  }

  /** The stream ended: the segment in progress is closed as it is. */
  end(): PackagerEvent[] {
    const closed = this.#closeSegment();
    return closed ? [closed] : [];
  }

  #fragment(moof: Uint8Array, mdat: Uint8Array): PackagerEvent[] {
    const info = parseMoof(moof, readBoxes(moof).boxes[0]!);
    const run = info.tracks.find((t) => t.trackId === this.#referenceTrack) ?? info.tracks[0];
    const track = this.#tracks!.find((t) => t.id === run?.trackId);
    if (!run || !track) throw new Error('fmp4: a fragment without the reference track');
    const decodeTime = run.baseDecodeTime / track.timescale;
    const duration = run.duration / track.timescale;
    if (this.#nextDecodeTime !== undefined && Math.abs(decodeTime - this.#nextDecodeTime) > 0.001)
      this.gaps++;
    this.#nextDecodeTime = decodeTime + duration;
    // Audio-only renditions: every fragment starts on a sync sample.
    const independent = track.handler === 'vide' ? run.independent : true;
    const events: PackagerEvent[] = [];
    this.#origin ??= decodeTime;
    if (this.#parts.length > 0 && independent && decodeTime >= this.#boundaryAfter(this.#segmentStart!)) {
      events.push(this.#closeSegment()!);
    }
    if (this.#parts.length === 0) this.#segmentStart = decodeTime;
    const bytes = new Uint8Array(moof.length + mdat.length);
    bytes.set(moof, 0);
    bytes.set(mdat, moof.length);
    const part: PartEvent = {
      type: 'part',
      msn: this.#msn,
      index: this.#parts.length,
      duration,
      decodeTime,
      independent,
      bytes,
    };
    this.#parts.push(part);
    events.push(part);
    return events;
  }

  /**
   * Segments end on a grid of the target length from the stream's first part, not the target
   * length after each start: renditions whose fragments end at different instants (AAC frames
   * against video frames) then keep the same segment numbers at the same times.
   */
  #boundaryAfter(start: number): number {
    const target = this.#segmentSeconds;
    const since = start - this.#origin!;
    return (
      this.#origin! + (Math.floor((since + EARLY_CUT_SECONDS) / target) + 1) * target - EARLY_CUT_SECONDS
    );
  }

  #closeSegment(): SegmentEvent | undefined {
    if (this.#parts.length === 0) return undefined;
    const parts = this.#parts;
    this.#parts = [];
    const segment: SegmentEvent = {
      type: 'segment',
      msn: this.#msn++,
      duration: parts.reduce((sum, p) => sum + p.duration, 0),
      decodeTime: parts[0]!.decodeTime,
      bytes: concat(parts.map((p) => p.bytes)),
      parts: parts.length,
    };
    return segment;
  }
}
