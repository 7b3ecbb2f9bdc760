import { formatRational, rationalValue } from './rational.ts';
import type { Ladder, Rung } from './vod-ladder.ts';

export interface StillsPlan {
  /** One frame every this many seconds feeds the storyboard and the thumbnails. */
  readonly everySeconds: number;
  readonly width: number;
  readonly height: number;
  /** `%05d`-style pattern for the frames. */
  readonly pattern: string;
}

export interface PosterPlan {
  /** Init + one media segment of the finished top rung: the poster is cut from what viewers see. */
  readonly input: string;
  /** Offset into that segment. */
  readonly atSeconds: number;
  readonly file: string;
}

export interface VodTranscodePlan {
  readonly input: string;
  /**
   * Base URL of the HLS sink session (`src/media/hls-sink.ts`) that receives one folder per
   * rendition (`<name>/index.m3u8`, `<name>/seg_00001.m4s`) by HTTP PUT.
   */
  readonly outputUrl: string;
  /** Undefined for audio-only sources. */
  readonly ladder?: Ladder;
  readonly audio: boolean;
  readonly segmentSeconds: number;
  readonly gopSeconds: number;
  readonly x264Preset: string;
  readonly audioBitrateKbps: number;
  readonly stills?: StillsPlan;
}

export const AUDIO_RENDITION = 'audio';

/** Frames per GOP: fixed, so every rung's keyframes fall on the same source frames. */
export function gopFrames(plan: Pick<VodTranscodePlan, 'ladder' | 'gopSeconds'>): number {
  if (!plan.ladder) return 0;
  return Math.max(1, Math.round(plan.gopSeconds * rationalValue(plan.ladder.frameRate)));
}

/**
 * Container demuxers an upload may be read with. An upload is untrusted: a "recording" that is
 * really an HLS playlist, a concat script or an image2 pattern would make ffmpeg read other local
 * files (another account's segments, say) into this account's output. These demuxers open only
 * the upload itself, and the only protocol allowed is the local file.
 */
export const UPLOAD_DEMUXERS = [
  'mov',
  'mp4',
  'matroska',
  'webm',
  'avi',
  'flv',
  'mpegts',
  'mpeg',
  'mp3',
  'wav',
  'aac',
  'ogg',
  'asf',
  'flac',
  'mxf',
  'caf',
  'aiff',
  'w64',
  'amr',
  'dv',
  'm4v',
  'h264',
  'hevc',
  'mpegvideo',
] as const;

/** Input options for reading an upload (ffprobe and ffmpeg alike). */
export function uploadInputArgs(): string[] {
  return ['-format_whitelist', UPLOAD_DEMUXERS.join(','), '-protocol_whitelist', 'file'];
}

/**
 * One ffmpeg process for the whole ladder: decode once, normalise (CFR, 8-bit 4:2:0), split,
 * scale each rung, and mux them all as fMP4 HLS with a single shared audio rendition; the
 * storyboard stills hang off the same decode instead of reading the file again.
 *
 * No branch may hold frames back: ffmpeg feeds the output that lags most, so a branch that emits
 * its first frame late (a poster trimmed to t=6 s, say) stalls every rung until then. That is why
 * the poster is cut afterwards from the finished top rung (`buildPosterArgs`).
 */
export function buildVodTranscodeArgs(plan: VodTranscodePlan): string[] {
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats'];
  args.push(...uploadInputArgs(), '-i', plan.input);

  const ladder = plan.ladder;
  const rungs = ladder?.rungs ?? [];
  const extraBranches = plan.stills ? 1 : 0;
  const maps: string[] = [];
  if (ladder && rungs.length > 0) {
    const branches = rungs.length + extraBranches;
    const labels = Array.from({ length: branches }, (_, i) => `[s${i}]`);
    const graph = [
      `[0:v:0]fps=${formatRational(ladder.frameRate)},format=yuv420p,split=${branches}${labels.join('')}`,
    ];
    rungs.forEach((rung, i) => {
      graph.push(`[s${i}]scale=${rung.width}:${rung.height}:flags=bicubic,setsar=1[v${i}]`);
    });
    if (plan.stills) {
      const s = plan.stills;
      graph.push(`[s${rungs.length}]fps=1/${s.everySeconds},scale=${s.width}:${s.height},setsar=1[stills]`);
    }
    args.push('-filter_complex', graph.join(';'));
    rungs.forEach((_, i) => maps.push('-map', `[v${i}]`));
  }
  if (plan.audio) maps.push('-map', '0:a:0');
  args.push(...maps);

  if (ladder && rungs.length > 0) {
    const gop = gopFrames(plan);
    args.push('-c:v', 'libx264', '-preset', plan.x264Preset, '-profile:v', 'high', '-pix_fmt', 'yuv420p');
    // Fixed GOP, no scene-cut keyframes: segment boundaries then coincide in every rung.
    args.push('-x264-params', `keyint=${gop}:min-keyint=${gop}:scenecut=0:open-gop=0`);
    rungs.forEach((rung, i) => {
      args.push(...cappedCrfArgs(i, rung, rung.bufferKbits));
    });
  }
  if (plan.audio) args.push(...aacArgs(plan.audioBitrateKbps));
  args.push(
    ...hlsLadderOutputArgs({
      rungNames: rungs.map((r) => r.name),
      audio: plan.audio,
      segmentSeconds: plan.segmentSeconds,
      url: `${plan.outputUrl}/%v`,
      // EVENT: the playlists grow while we encode, so the asset plays before it is finished.
    }),
  );

  if (plan.stills) {
    args.push('-map', '[stills]', '-c:v', 'png', '-f', 'image2', plan.stills.pattern);
  }
  return args;
}

/** Capped CRF for output video stream `index`: quality target under the rung's bit-rate cap. */
export function cappedCrfArgs(index: number, rung: Rung, bufferKbits: number): string[] {
  return [
    ...[`-crf:v:${index}`, String(rung.crf), `-maxrate:v:${index}`, `${rung.maxBitrateKbps}k`],
    ...[`-bufsize:v:${index}`, `${bufferKbits}k`],
  ];
}

/** The one audio rendition: AAC-LC stereo 48 kHz, whatever the source had. */
export function aacArgs(kbps: number): string[] {
  return ['-c:a', 'aac', '-b:a', `${kbps}k`, '-ac', '2', '-ar', '48000'];
}

/**
 * The fMP4 HLS muxer of a VOD ladder (an EVENT playlist while it grows), written by HTTP PUT to
 * the segment sink: `url` is the sink session's URL of each rendition's folder and contains `%v`;
 * one shared audio rendition in group `aud`. (Live output does not use it: see `live-args.ts`.)
 *
 * No `temp_file` flag: it writes `<name>.tmp` and renames it, a local-disk step; over HTTP each
 * PUT is atomic already (the sink stores a file only once it has arrived whole). Over HTTP ffmpeg
 * names the init sections `init_<variant index>.mp4`; each playlist's EXT-X-MAP says which.
 */
export function hlsLadderOutputArgs(o: {
  rungNames: readonly string[];
  audio: boolean;
  segmentSeconds: number;
  url: string;
}): string[] {
  const streamMap = o.rungNames.map((name, i) => `v:${i}${o.audio ? ',agroup:aud' : ''},name:${name}`);
  if (o.audio) streamMap.push(`a:0${o.rungNames.length > 0 ? ',agroup:aud' : ''},name:${AUDIO_RENDITION}`);
  return [
    ...['-f', 'hls', '-hls_time', String(o.segmentSeconds), '-hls_playlist_type', 'event'],
    ...['-hls_segment_type', 'fmp4', '-hls_flags', 'independent_segments'],
    // One kept-alive connection for the run instead of one per file.
    ...['-method', 'PUT', '-http_persistent', '1'],
    ...['-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', `${o.url}/seg_%05d.m4s`],
    ...['-var_stream_map', streamMap.join(' '), `${o.url}/index.m3u8`],
  ];
}

/**
 * Storyboard stills from a finished recording made of fMP4 pieces (a live recording: one piece per
 * period, listed in an ffconcat file), one every `everySeconds`: decodes the lowest rung only.
 */
export function buildStillsArgs(o: {
  concatList: string;
  everySeconds: number;
  width: number;
  height: number;
  pattern: string;
}): string[] {
  return [
    ...['-hide_banner', '-nostdin', '-y', '-loglevel', 'error'],
    ...['-f', 'concat', '-safe', '0', '-i', o.concatList],
    ...['-map', '0:v:0', '-vf', `fps=1/${o.everySeconds},scale=${o.width}:${o.height},setsar=1`],
    ...['-c:v', 'png', '-f', 'image2', o.pattern],
  ];
}

/**
 * One frame of the finished top rung. The input is one segment with its init (ffmpeg 5.1's HLS
 * demuxer misreads fMP4 playlists), so this decodes at most one segment.
 */
export function buildPosterArgs(plan: PosterPlan): string[] {
  return [
    ...['-hide_banner', '-nostdin', '-y', '-loglevel', 'error'],
    ...['-ss', plan.atSeconds.toFixed(3), '-i', plan.input],
    ...['-map', '0:v:0', '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', plan.file],
  ];
}
