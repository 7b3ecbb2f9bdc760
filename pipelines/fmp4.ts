/**
 * Fragmented MP4 (ISO/IEC 14496-12) as ffmpeg writes it for streaming
 * (`-movflags frag_keyframe+empty_moov+default_base_moof`): an init section (`ftyp` + `moov`)
 * followed by fragments (`moof` + `mdat`). Pure: reads bytes, never does I/O. The packager
 * (`ll-hls-packager.ts`) cuts these fragments into LL-HLS parts and segments.
 */

export interface Box {
  readonly type: string;
  /** Offset of the box header in the buffer it was read from. */
  readonly start: number;
  /** Offset of the first byte after the box. */
  readonly end: number;
  /** Offset of the box's payload (after its header, incl. a 64-bit size). */
  readonly body: number;
}

/**
 * The complete boxes at the top of `buf` from `offset`, and where the first incomplete one starts
 * (a stream's next chunk continues it). A size of 0 ("to the end of the file") cannot occur in a
 * stream that is still growing; it is refused, as is any size below the header's own.
 */
export function readBoxes(buf: Uint8Array, offset = 0, end = buf.length): { boxes: Box[]; rest: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const boxes: Box[] = [];
  let at = offset;
  while (end - at >= 8) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(buf[at + 4]!, buf[at + 5]!, buf[at + 6]!, buf[at + 7]!);
    let header = 8;
    if (size === 1) {
      if (end - at < 16) break;
      const big = view.getBigUint64(at + 8);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`fmp4: ${type} box too large`);
      size = Number(big);
      header = 16;
    }
    if (size < header) throw new Error(`fmp4: ${type} box with size ${size}`);
    if (end - at < size) break;
    boxes.push({ type, start: at, end: at + size, body: at + header });
    at += size;
  }
  return { boxes, rest: at };
}

function children(buf: Uint8Array, box: Box, skip = 0): Box[] {
  return readBoxes(buf, box.body + skip, box.end).boxes;
}

function child(buf: Uint8Array, box: Box, type: string, skip = 0): Box | undefined {
  return children(buf, box, skip).find((b) => b.type === type);
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export interface TrackInfo {
  readonly id: number;
  /** `vide`, `soun`, ... (the handler type). */
  readonly handler: string;
  /** Ticks per second of the track's media time (mdhd). */
  readonly timescale: number;
}

/** The tracks an init section (`ftyp` + `moov`) declares. */
export function parseInit(buf: Uint8Array): TrackInfo[] {
  const dv = view(buf);
  const moov = readBoxes(buf).boxes.find((b) => b.type === 'moov');
  if (!moov) throw new Error('fmp4: no moov in the init section');
  const tracks: TrackInfo[] = [];
  for (const trak of children(buf, moov).filter((b) => b.type === 'trak')) {
    const tkhd = child(buf, trak, 'tkhd');
    const mdia = child(buf, trak, 'mdia');
    const mdhd = mdia && child(buf, mdia, 'mdhd');
    const hdlr = mdia && child(buf, mdia, 'hdlr');
    if (!tkhd || !mdhd || !hdlr) throw new Error('fmp4: a trak without tkhd, mdhd or hdlr');
    // tkhd: version(1) flags(3), then times of 4 or 8 bytes each (v0/v1), then track_ID.
    const tkhdVersion = buf[tkhd.body]!;
    const id = dv.getUint32(tkhd.body + 4 + (tkhdVersion === 1 ? 16 : 8));
    const mdhdVersion = buf[mdhd.body]!;
    const timescale = dv.getUint32(mdhd.body + 4 + (mdhdVersion === 1 ? 16 : 8));
    // hdlr: version/flags(4), pre_defined(4), handler_type(4).
    const h = hdlr.body + 8;
    const handler = String.fromCharCode(buf[h]!, buf[h + 1]!, buf[h + 2]!, buf[h + 3]!);
    tracks.push({ id, handler, timescale });
  }
  return tracks;
}

export interface TrackRun {
  readonly trackId: number;
  /** tfdt: decode time of the run's first sample, in the track's timescale. */
  readonly baseDecodeTime: number;
  /** Sum of the samples' durations, in the track's timescale. */
  readonly duration: number;
  readonly samples: number;
  /** The first sample is a sync sample (a keyframe): decoding can start here. */
  readonly independent: boolean;
}

export interface Fragment {
  /** mfhd sequence number. */
  readonly sequence: number;
  readonly tracks: readonly TrackRun[];
}

// trun flags (ISO/IEC 14496-12 8.8.8)
const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_SAMPLE_DURATION = 0x100;
const TRUN_SAMPLE_SIZE = 0x200;
const TRUN_SAMPLE_FLAGS = 0x400;
const TRUN_SAMPLE_CTO = 0x800;
// tfhd flags (8.8.7)
const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION = 0x2;
const TFHD_DEFAULT_DURATION = 0x8;
const TFHD_DEFAULT_SIZE = 0x10;
const TFHD_DEFAULT_FLAGS = 0x20;

/** sample_flags: sample_depends_on == 2 (depends on no other) and not sample_is_non_sync_sample. */
function isSync(flags: number): boolean {
  const dependsOn = (flags >>> 24) & 0x3;
  const nonSync = (flags >>> 16) & 0x1;
  return nonSync === 0 && dependsOn !== 1;
}

/** What a `moof` says of its samples: per track, decode time, duration and whether it starts on a keyframe. */
export function parseMoof(buf: Uint8Array, moof: Box): Fragment {
  const dv = view(buf);
  const mfhd = child(buf, moof, 'mfhd');
  if (!mfhd) throw new Error('fmp4: moof without mfhd');
  const sequence = dv.getUint32(mfhd.body + 4);
  const tracks: TrackRun[] = [];
  for (const traf of children(buf, moof).filter((b) => b.type === 'traf')) {
    const tfhd = child(buf, traf, 'tfhd');
    const tfdt = child(buf, traf, 'tfdt');
    if (!tfhd || !tfdt) throw new Error('fmp4: traf without tfhd or tfdt');
    const tfhdFlags = dv.getUint32(tfhd.body) & 0xffffff;
    const trackId = dv.getUint32(tfhd.body + 4);
    let at = tfhd.body + 8;
    if (tfhdFlags & TFHD_BASE_DATA_OFFSET) at += 8;
    if (tfhdFlags & TFHD_SAMPLE_DESCRIPTION) at += 4;
    let defaultDuration = 0;
    let defaultFlags = 0;
    if (tfhdFlags & TFHD_DEFAULT_DURATION) {
      defaultDuration = dv.getUint32(at);
      at += 4;
    }
    if (tfhdFlags & TFHD_DEFAULT_SIZE) at += 4;
    if (tfhdFlags & TFHD_DEFAULT_FLAGS) defaultFlags = dv.getUint32(at);
    const tfdtVersion = buf[tfdt.body]!;
    const baseDecodeTime =
      tfdtVersion === 1 ? Number(dv.getBigUint64(tfdt.body + 4)) : dv.getUint32(tfdt.body + 4);
    let duration = 0;
    let samples = 0;
    let independent: boolean | undefined;
    for (const trun of children(buf, traf).filter((b) => b.type === 'trun')) {
      const flags = dv.getUint32(trun.body) & 0xffffff;
      const count = dv.getUint32(trun.body + 4);
      let p = trun.body + 8;
      if (flags & TRUN_DATA_OFFSET) p += 4;
      let firstFlags: number | undefined;
      if (flags & TRUN_FIRST_SAMPLE_FLAGS) {
        firstFlags = dv.getUint32(p);
        p += 4;
      }
      const per =
        (flags & TRUN_SAMPLE_DURATION ? 4 : 0) +
        (flags & TRUN_SAMPLE_SIZE ? 4 : 0) +
        (flags & TRUN_SAMPLE_FLAGS ? 4 : 0) +
        (flags & TRUN_SAMPLE_CTO ? 4 : 0);
      if (p + per * count > trun.end) throw new Error('fmp4: trun longer than its box');
      for (let i = 0; i < count; i++) {
        const s = p + i * per;
        duration += flags & TRUN_SAMPLE_DURATION ? dv.getUint32(s) : defaultDuration;
        if (independent === undefined && i === 0) {
          const sampleFlags =
            firstFlags ??
            (flags & TRUN_SAMPLE_FLAGS
              ? dv.getUint32(s + (flags & TRUN_SAMPLE_DURATION ? 4 : 0) + (flags & TRUN_SAMPLE_SIZE ? 4 : 0))
              : defaultFlags);
          independent = isSync(sampleFlags);
        }
      }
      samples += count;
    }
    tracks.push({ trackId, baseDecodeTime, duration, samples, independent: independent ?? false });
  }
  return { sequence, tracks };
}
