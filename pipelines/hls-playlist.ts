/** HLS playlist reading and writing (RFC 8216). Pure: text in, text out. */

export interface MediaSegment {
  readonly uri: string;
  readonly duration: number;
  /** A break in timestamps/encoding before this segment (an encoder reconnect, a worker takeover). */
  readonly discontinuity?: boolean;
  /** Init segment for this and the following segments, when it differs from the one before. */
  readonly mapUri?: string;
  /** Wall-clock time of the segment's first sample (ISO 8601). */
  readonly programDateTime?: string;
  /** LL-HLS: the segment's partial segments, listed near the live edge (RFC 8216bis 4.4.4.9). */
  readonly parts?: readonly PartialSegment[];
}

export interface PartialSegment {
  readonly uri: string;
  readonly duration: number;
  /** Starts with a keyframe: a player may start decoding here. */
  readonly independent: boolean;
}

/** The Low-Latency HLS tags of a live media playlist (RFC 8216bis 4.4.3.7-8, 4.4.5.2-3). */
export interface LowLatency {
  /** EXT-X-PART-INF PART-TARGET (s): no part is longer. */
  readonly partTarget: number;
  /** EXT-X-SERVER-CONTROL PART-HOLD-BACK (s): at least twice the part target (three is the advice). */
  readonly partHoldBack: number;
  /** Parts of the segment still being made, after the last whole segment. */
  readonly pendingParts: readonly PartialSegment[];
  /** EXT-X-PRELOAD-HINT: the part that comes next, which a player may ask for before it exists. */
  readonly preloadHint?: string;
  /** EXT-X-RENDITION-REPORT of the other renditions: where they are, for a quick switch. */
  readonly renditionReports: readonly { uri: string; lastMsn: number; lastPart: number }[];
}

export interface MediaPlaylist {
  readonly targetDuration: number;
  readonly mediaSequence: number;
  readonly discontinuitySequence?: number;
  readonly playlistType?: 'EVENT' | 'VOD';
  readonly mapUri?: string;
  readonly segments: readonly MediaSegment[];
  readonly ended: boolean;
  readonly lowLatency?: LowLatency;
}

const partLine = (p: PartialSegment) =>
  `#EXT-X-PART:DURATION=${p.duration.toFixed(5)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`;

function attribute(line: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[:,])${name}=("([^"]*)"|[^,]*)`).exec(line);
  return match ? (match[2] ?? match[1]) : undefined;
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new Error('not an HLS playlist: missing #EXTM3U');
  let targetDuration = 0;
  let mediaSequence = 0;
  let playlistType: MediaPlaylist['playlistType'];
  let mapUri: string | undefined;
  let ended = false;
  let discontinuitySequence = 0;
  let pendingDuration: number | undefined;
  let pending: { discontinuity?: true; mapUri?: string; programDateTime?: string } = {};
  const segments: MediaSegment[] = [];
  let parts: PartialSegment[] = [];
  let partTarget: number | undefined;
  let partHoldBack: number | undefined;
  let preloadHint: string | undefined;
  const renditionReports: LowLatency['renditionReports'][number][] = [];
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-DISCONTINUITY-SEQUENCE:'))
      discontinuitySequence = Number(line.slice(30));
    else if (line === '#EXT-X-DISCONTINUITY') pending.discontinuity = true;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pending.programDateTime = line.slice(25);
    else if (line.startsWith('#EXT-X-PLAYLIST-TYPE:')) {
      const type = line.slice(21);
      if (type === 'EVENT' || type === 'VOD') playlistType = type;
    } else if (line.startsWith('#EXT-X-MAP:')) {
      const uri = attribute(line, 'URI');
      // The first map is the playlist's; a later one (after a discontinuity) belongs to its segments.
      if (segments.length === 0 && !mapUri) mapUri = uri;
      else if (uri) pending.mapUri = uri;
    } else if (line.startsWith('#EXTINF:')) pendingDuration = Number(line.slice(8).split(',')[0]);
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line.startsWith('#EXT-X-PART:'))
      parts.push({
        uri: attribute(line, 'URI') ?? '',
        duration: Number(attribute(line, 'DURATION')),
        independent: attribute(line, 'INDEPENDENT') === 'YES',
      });
    else if (line.startsWith('#EXT-X-PART-INF:')) partTarget = Number(attribute(line, 'PART-TARGET'));
    else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      const hold = attribute(line, 'PART-HOLD-BACK');
      if (hold !== undefined) partHoldBack = Number(hold);
    } else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) preloadHint = attribute(line, 'URI');
    else if (line.startsWith('#EXT-X-RENDITION-REPORT:'))
      renditionReports.push({
        uri: attribute(line, 'URI') ?? '',
        lastMsn: Number(attribute(line, 'LAST-MSN')),
        lastPart: Number(attribute(line, 'LAST-PART')),
      });
    else if (!line.startsWith('#')) {
      if (pendingDuration === undefined) throw new Error(`segment ${line} has no #EXTINF`);
      segments.push({ uri: line, duration: pendingDuration, ...pending, ...(parts.length ? { parts } : {}) });
      pendingDuration = undefined;
      pending = {};
      parts = [];
    }
  }
  const lowLatency: LowLatency | undefined =
    partTarget !== undefined
      ? {
          partTarget,
          partHoldBack: partHoldBack ?? 3 * partTarget,
          pendingParts: parts,
          ...(preloadHint ? { preloadHint } : {}),
          renditionReports,
        }
      : undefined;
  return {
    targetDuration,
    mediaSequence,
    ...(discontinuitySequence > 0 ? { discontinuitySequence } : {}),
    ...(playlistType ? { playlistType } : {}),
    ...(mapUri ? { mapUri } : {}),
    segments,
    ended,
    ...(lowLatency ? { lowLatency } : {}),
  };
}

/** The segment playing at `seconds` and how far into it that is (clamped to the last segment). */
export function segmentAt(
  segments: readonly MediaSegment[],
  seconds: number,
): { index: number; offset: number } | undefined {
  let start = 0;
  for (const [index, segment] of segments.entries()) {
    if (seconds < start + segment.duration || index === segments.length - 1) {
      return { index, offset: Math.max(0, Math.min(seconds - start, segment.duration - 0.001)) };
    }
    start += segment.duration;
  }
  return undefined;
}

/** The init segment in effect for segment `index` (the last EXT-X-MAP at or before it). */
export function mapUriAt(playlist: MediaPlaylist, index: number): string | undefined {
  for (let i = Math.min(index, playlist.segments.length - 1); i >= 0; i--) {
    const uri = playlist.segments[i]!.mapUri;
    if (uri) return uri;
  }
  return playlist.mapUri;
}

/** RFC 8216 4.3.3.1: every EXTINF, rounded to the nearest integer, must not exceed it. */
export function targetDurationOf(segments: readonly MediaSegment[]): number {
  return Math.max(1, ...segments.map((s) => Math.round(s.duration)));
}

/**
 * Writes a media playlist. Live windows pass the media and discontinuity sequence of their first
 * listed segment; EXT-X-MAP is repeated wherever the init segment changes (after a discontinuity).
 */
export function writeMediaPlaylist(playlist: MediaPlaylist): string {
  const ll = playlist.ended ? undefined : playlist.lowLatency;
  const out = [
    '#EXTM3U',
    // Version 9 for the LL-HLS tags (RFC 8216bis 7): older clients ignore them and play segments.
    ll ? '#EXT-X-VERSION:9' : '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.max(playlist.targetDuration, targetDurationOf(playlist.segments))}`,
    `#EXT-X-MEDIA-SEQUENCE:${playlist.mediaSequence}`,
  ];
  if (ll) {
    out.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${ll.partHoldBack.toFixed(3)}`,
      `#EXT-X-PART-INF:PART-TARGET=${ll.partTarget.toFixed(5)}`,
    );
  }
  if (playlist.discontinuitySequence) {
    out.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${playlist.discontinuitySequence}`);
  }
  if (playlist.playlistType) out.push(`#EXT-X-PLAYLIST-TYPE:${playlist.playlistType}`);
  out.push('#EXT-X-INDEPENDENT-SEGMENTS');
  let map = playlist.mapUri;
  if (map) out.push(`#EXT-X-MAP:URI="${map}"`);
  for (const [i, s] of playlist.segments.entries()) {
    if (s.discontinuity) out.push('#EXT-X-DISCONTINUITY');
    if (s.mapUri && s.mapUri !== map) {
      map = s.mapUri;
      out.push(`#EXT-X-MAP:URI="${map}"`);
    }
    // Stamped at the start and after every break, which is where clients re-anchor.
    if (s.programDateTime && (i === 0 || s.discontinuity)) {
      out.push(`#EXT-X-PROGRAM-DATE-TIME:${s.programDateTime}`);
    }
    if (ll && s.parts) for (const p of s.parts) out.push(partLine(p));
    out.push(`#EXTINF:${s.duration.toFixed(6)},`, s.uri);
  }
  if (ll) {
    for (const p of ll.pendingParts) out.push(partLine(p));
    if (ll.preloadHint) out.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${ll.preloadHint}"`);
    for (const r of ll.renditionReports)
      out.push(`#EXT-X-RENDITION-REPORT:URI="${r.uri}",LAST-MSN=${r.lastMsn},LAST-PART=${r.lastPart}`);
  }
  if (playlist.ended) out.push('#EXT-X-ENDLIST');
  return out.join('\n') + '\n';
}

/** Rewrites a finished EVENT playlist (or a live recording's) as the final VOD playlist. */
export function writeVodMediaPlaylist(playlist: MediaPlaylist): string {
  const { discontinuitySequence: _dropped, ...rest } = playlist;
  return writeMediaPlaylist({
    ...rest,
    targetDuration: 0,
    mediaSequence: 0,
    playlistType: 'VOD',
    ended: true,
  });
}

export interface SizedSegment {
  readonly duration: number;
  readonly bytes: number;
}

/**
 * Peak segment bit rate as RFC 8216 4.3.4.2 defines it: the largest bit rate of any contiguous
 * run of segments lasting between 0.5 and 1.5 target durations (a short tail segment alone
 * would otherwise report its container overhead as a peak).
 */
export function peakBitrate(segments: readonly SizedSegment[], targetDuration: number): number {
  const total = segments.reduce((sum, s) => sum + s.duration, 0);
  if (segments.length === 0 || total <= 0) return 0;
  if (total < 0.5 * targetDuration) {
    return Math.ceil((segments.reduce((sum, s) => sum + s.bytes, 0) * 8) / total);
  }
  let peak = 0;
  for (let i = 0; i < segments.length; i++) {
    let duration = 0;
    let bytes = 0;
    for (let j = i; j < segments.length; j++) {
      const seg = segments[j]!;
      duration += seg.duration;
      bytes += seg.bytes;
      if (duration > 1.5 * targetDuration) break;
      if (duration >= 0.5 * targetDuration) peak = Math.max(peak, (bytes * 8) / duration);
    }
  }
  return Math.ceil(peak);
}

export function averageBitrate(segments: readonly SizedSegment[]): number {
  const duration = segments.reduce((sum, s) => sum + s.duration, 0);
  const bytes = segments.reduce((sum, s) => sum + s.bytes, 0);
  return duration > 0 ? Math.ceil((bytes * 8) / duration) : 0;
}

/**
 * RFC 6381 codec string of an H.264 track, read from the avcC box of an fMP4 init segment:
 * profile, constraint flags and level exactly as the encoder wrote them.
 */
export function avcCodecFromInit(init: Uint8Array): string | undefined {
  for (let i = 4; i + 8 < init.length; i++) {
    // 'avcC' box type, followed by configurationVersion (1), profile, compatibility, level.
    if (init[i] === 0x61 && init[i + 1] === 0x76 && init[i + 2] === 0x63 && init[i + 3] === 0x43) {
      if (init[i + 4] !== 1) continue;
      const hex = (b: number | undefined) => (b ?? 0).toString(16).padStart(2, '0');
      return `avc1.${hex(init[i + 5])}${hex(init[i + 6])}${hex(init[i + 7])}`;
    }
  }
  return undefined;
}

export const AAC_LC_CODEC = 'mp4a.40.2';

export interface VariantEntry {
  readonly uri: string;
  readonly bandwidth: number;
  readonly averageBandwidth?: number;
  readonly codecs: string;
  readonly width?: number;
  readonly height?: number;
  readonly frameRate?: number;
}

export interface AudioRendition {
  readonly groupId: string;
  readonly name: string;
  readonly uri: string;
}

export interface MasterPlaylist {
  readonly variants: readonly VariantEntry[];
  readonly audio?: AudioRendition;
  /** EXT-X-START offset; 0 makes players start a still-growing asset from the beginning. */
  readonly startOffset?: number;
}

export function writeMasterPlaylist(master: MasterPlaylist): string {
  const out = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (master.startOffset !== undefined) {
    out.push(`#EXT-X-START:TIME-OFFSET=${master.startOffset.toFixed(3)},PRECISE=YES`);
  }
  const audio = master.audio;
  if (audio) {
    out.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${audio.groupId}",NAME="${audio.name}",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="${audio.uri}"`,
    );
  }
  for (const v of master.variants) {
    const attrs = [`BANDWIDTH=${v.bandwidth}`];
    if (v.averageBandwidth !== undefined) attrs.push(`AVERAGE-BANDWIDTH=${v.averageBandwidth}`);
    attrs.push(`CODECS="${v.codecs}"`);
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    if (audio && v.width) attrs.push(`AUDIO="${audio.groupId}"`);
    out.push(`#EXT-X-STREAM-INF:${attrs.join(',')}`, v.uri);
  }
  return out.join('\n') + '\n';
}

export interface MasterVariantRef {
  readonly uri: string;
  readonly bandwidth: number;
  readonly averageBandwidth?: number;
  readonly codecs: string[];
  readonly resolution?: { width: number; height: number };
  readonly frameRate?: number;
  readonly audioGroup?: string;
}

/** Reads a master playlist back (used by tests, the CLI and the benchmark). */
export function parseMasterPlaylist(text: string): { variants: MasterVariantRef[]; audioUris: string[] } {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines[0] !== '#EXTM3U') throw new Error('not an HLS playlist: missing #EXTM3U');
  const variants: MasterVariantRef[] = [];
  const audioUris: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#EXT-X-MEDIA:') && attribute(line, 'TYPE') === 'AUDIO') {
      const uri = attribute(line, 'URI');
      if (uri) audioUris.push(uri);
    }
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const uri = lines[i + 1] ?? '';
    const resolution = attribute(line, 'RESOLUTION')?.split('x').map(Number);
    const average = attribute(line, 'AVERAGE-BANDWIDTH');
    const frameRate = attribute(line, 'FRAME-RATE');
    const audioGroup = attribute(line, 'AUDIO');
    variants.push({
      uri,
      bandwidth: Number(attribute(line, 'BANDWIDTH')),
      ...(average ? { averageBandwidth: Number(average) } : {}),
      codecs: (attribute(line, 'CODECS') ?? '').split(',').filter(Boolean),
      ...(resolution && resolution.length === 2
        ? { resolution: { width: resolution[0]!, height: resolution[1]! } }
        : {}),
      ...(frameRate ? { frameRate: Number(frameRate) } : {}),
      ...(audioGroup ? { audioGroup } : {}),
    });
  }
  return { variants, audioUris };
}
