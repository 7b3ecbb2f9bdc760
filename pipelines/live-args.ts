import { formatRational, rationalValue } from './rational.ts';
import type { VideoFacts } from './source-facts.ts';
import { aacArgs, cappedCrfArgs, hlsLadderOutputArgs } from './vod-args.ts';
import type { Ladder } from './vod-ladder.ts';

/**
 * The live ffmpeg: one process per stream period (from a connect to its disconnect), pulling the
 * presenter's RTMP feed and writing every rendition as fMP4 HLS to `<rendition>/<period>/` of a
 * segment sink session (HTTP PUT, `src/media/hls-sink.ts`). The job that runs it stitches periods
 * into the public live playlists (`live-playlist.ts`).
 */
export interface LiveTranscodePlan {
  readonly input: string;
  /** Base URL of the sink session the period writes to. */
  readonly outputUrl: string;
  /** Folder name of this period under each rendition, e.g. `p0003-3fa9`. */
  readonly period: string;
  readonly ladder: Ladder;
  /** Copy the source video as the top rung instead of encoding it (halves the CPU of a stream). */
  readonly passthrough: boolean;
  readonly audio: boolean;
  readonly segmentSeconds: number;
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

export function buildLiveTranscodeArgs(plan: LiveTranscodePlan): string[] {
  const { ladder } = plan;
  const rungs = ladder.rungs;
  const args = ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', '-progress', 'pipe:1', '-nostats'];
  // Start from the first packets the ingest hands over (its GOP cache), no long probing.
  args.push('-fflags', '+genpts', '-analyzeduration', '1000000', '-probesize', '1000000');
  args.push('-i', plan.input);

  const encoded = plan.passthrough ? rungs.slice(1) : rungs;
  const first = plan.passthrough ? 1 : 0;
  if (encoded.length > 0) {
    const labels = encoded.map((_, i) => `[s${i}]`);
    const graph = [
      `[0:v:0]fps=${formatRational(ladder.frameRate)},format=yuv420p,split=${encoded.length}${labels.join('')}`,
      ...encoded.map((rung, i) => `[s${i}]scale=${rung.width}:${rung.height}:flags=bicubic,setsar=1[v${i}]`),
    ];
    args.push('-filter_complex', graph.join(';'));
  }
  if (plan.passthrough) args.push('-map', '0:v:0');
  encoded.forEach((_, i) => args.push('-map', `[v${i}]`));
  if (plan.audio) args.push('-map', '0:a:0');

  if (plan.passthrough) args.push('-c:v:0', 'copy');
  const gop = Math.max(1, Math.round(plan.segmentSeconds * rationalValue(ladder.frameRate)));
  encoded.forEach((rung, j) => {
    const i = first + j;
    args.push(
      `-c:v:${i}`,
      'libx264',
      `-preset:v:${i}`,
      plan.x264Preset,
      `-tune:v:${i}`,
      'zerolatency',
      `-profile:v:${i}`,
      'high',
      // A one-second buffer: live cannot borrow bits from the future the way a file encode can.
      ...cappedCrfArgs(i, rung, rung.maxBitrateKbps),
    );
    // Keyframes where the copied top rung has them (the presenter's own GOP), or on a fixed
    // cadence when every rung is encoded: either way every rung cuts segments at the same instants.
    if (plan.passthrough) args.push(`-force_key_frames:v:${i}`, 'source');
    args.push(
      `-x264-params:v:${i}`,
      `keyint=${plan.passthrough ? 600 : gop}:min-keyint=${plan.passthrough ? 1 : gop}:scenecut=0:open-gop=0`,
    );
  });
  if (plan.audio) args.push(...aacArgs(plan.audioBitrateKbps));
  args.push(
    ...hlsLadderOutputArgs({
      rungNames: rungs.map((r) => r.name),
      audio: plan.audio,
      segmentSeconds: plan.segmentSeconds,
      url: `${plan.outputUrl}/%v/${plan.period}`,
      mode: 'live',
    }),
  );
  return args;
}
