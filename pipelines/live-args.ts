import { formatRational, rationalValue } from './rational.ts';
import type { VideoFacts } from './source-facts.ts';
import { aacArgs, cappedCrfArgs } from './vod-args.ts';
import type { Ladder } from './vod-ladder.ts';

/**
 * The live ffmpeg: one process per stream period (from a connect to its disconnect), pulling the
 * presenter's feed and writing every rendition as fragmented MP4 to a pipe of its own; the live
 * job cuts parts and segments (`ll-hls-packager.ts`), stores them under `<rendition>/<period>/`,
 * and stitches periods into the public live playlists (`live-playlist.ts`).
 */
export interface LiveTranscodePlan {
  readonly input: string;
  readonly ladder: Ladder;
  /** Copy the source video as the top rung instead of encoding it (halves the CPU of a stream). */
  readonly passthrough: boolean;
  readonly audio: boolean;
  readonly segmentSeconds: number;
  /** Longest fragment (s): the LL-HLS part target. */
  readonly partSeconds: number;
  readonly x264Preset: string;
  readonly audioBitrateKbps: number;
}

/** Sources we copy as the top rung: H.264 in 4:2:0, upright, at most 1080p and 60 fps, exactly the top rung's size. */
export function canPassThrough(video: VideoFacts, ladder: Ladder): boolean {
  const top = ladder.rungs[0];
  return (
    video.codec === 'h264' &&
    (video.pixelFormat === undefined ||
      video.pixelFormat === 'yuv420p' ||
      video.pixelFormat === 'yuvj420p') &&
    video.rotation === 0 &&
    Math.min(video.width, video.height) <= 1080 &&
    rationalValue(video.frameRate) <= 60.5 &&
    top !== undefined &&
    top.width === video.width &&
    top.height === video.height
  );
}

/** The first extra file descriptor ffmpeg writes to: rendition i goes to `pipe:<FIRST_PIPE_FD + i>`. */
export const FIRST_PIPE_FD = 3;

/** Fragmented MP4 to a pipe, one `moof`+`mdat` per keyframe and at most every `partSeconds`. */
function fragmentedMp4Args(partSeconds: number, fd: number): string[] {
  return [
    ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
    ...['-frag_duration', String(Math.round(partSeconds * 1e6)), `pipe:${fd}`],
  ];
}

/**
 * The live ffmpeg: one output per rendition (video rungs top first, then the audio rendition when
 * `audio`), each fragmented MP4 on its own pipe from `FIRST_PIPE_FD` on. onair cuts
 * the fragments into parts and segments itself (`ll-hls-packager.ts`): ffmpeg 5.1's HLS muxer
 * cannot make LL-HLS parts, and one way of cutting serves regular and low-latency playlists alike.
 */
export function buildLiveTranscodeArgs(plan: LiveTranscodePlan): string[] {
  const { ladder } = plan;
  const rungs = ladder.rungs;
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats'];
  // Start from the first packets the ingest hands over (its GOP cache), no long probing.
  args.push('-fflags', '+genpts', '-analyzeduration', '1000000', '-probesize', '1000000');
  args.push('-i', plan.input);

  const encoded = plan.passthrough ? rungs.slice(1) : rungs;
  if (encoded.length > 0) {
    const labels = encoded.map((_, i) => `[s${i}]`);
    const graph = [
      `[0:v:0]fps=${formatRational(ladder.frameRate)},format=yuv420p,split=${encoded.length}${labels.join('')}`,
      ...encoded.map((rung, i) => `[s${i}]scale=${rung.width}:${rung.height}:flags=bicubic,setsar=1[v${i}]`),
    ];
    args.push('-filter_complex', graph.join(';'));
  }
  let fd = FIRST_PIPE_FD;
  if (plan.passthrough)
    args.push('-map', '0:v:0', '-c:v', 'copy', ...fragmentedMp4Args(plan.partSeconds, fd++));
  const gop = Math.max(1, Math.round(plan.segmentSeconds * rationalValue(ladder.frameRate)));
  encoded.forEach((rung, i) => {
    args.push('-map', `[v${i}]`, '-c:v', 'libx264', '-preset', plan.x264Preset, '-tune', 'zerolatency');
    // A one-second buffer: live cannot borrow bits from the future the way a file encode can.
    args.push('-profile:v', 'high', ...cappedCrfArgs(0, rung, rung.maxBitrateKbps));
    // Keyframes where the copied top rung has them (the presenter's own GOP), or on a fixed
    // cadence when every rung is encoded: either way every rung cuts segments at the same instants.
    if (plan.passthrough) args.push('-force_key_frames', 'source');
    args.push(
      '-x264-params',
      `keyint=${plan.passthrough ? 600 : gop}:min-keyint=${plan.passthrough ? 1 : gop}:scenecut=0:open-gop=0`,
    );
    args.push(...fragmentedMp4Args(plan.partSeconds, fd++));
  });
  if (plan.audio)
    args.push(
      '-map',
      '0:a:0',
      ...aacArgs(plan.audioBitrateKbps),
      ...fragmentedMp4Args(plan.partSeconds, fd++),
    );
  return args;
}
