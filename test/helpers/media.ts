import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SourceSpec {
  width?: number;
  height?: number;
  seconds: number;
  fps?: number;
  audio?: boolean;
  video?: boolean;
  /** Pattern for motion that costs bits: mandelbrot plus noise (benchmarks). */
  heavy?: boolean;
  /** Display-matrix rotation written into the container. */
  rotate?: number;
  container?: 'mp4' | 'm4a' | 'mkv';
}

/** Makes a real test recording with ffmpeg's lavfi sources (x264 ultrafast to keep it quick). */
export async function makeSource(file: string, spec: SourceSpec): Promise<string> {
  const { width = 1280, height = 720, fps = 30, seconds } = spec;
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  const video = spec.video !== false;
  if (video) {
    const pattern = spec.heavy
      ? `mandelbrot=size=640x360:rate=${fps},scale=${width}:${height},noise=alls=12:allf=t`
      : `testsrc2=size=${width}x${height}:rate=${fps}`;
    args.push('-f', 'lavfi', '-t', String(seconds), '-i', pattern);
  }
  if (spec.audio !== false) {
    args.push('-f', 'lavfi', '-t', String(seconds), '-i', `sine=frequency=440:sample_rate=48000`);
  }
  if (video) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(fps));
  if (spec.audio !== false) args.push('-c:a', 'aac', '-b:a', '96k');
  if (spec.rotate !== undefined) args.push('-metadata:s:v:0', `rotate=${spec.rotate}`);
  args.push(file);
  await run('ffmpeg', args);
  return file;
}

export interface FrameInfo {
  keyFrame: boolean;
  ptsTime: number;
}

/** First frame of an fMP4 media segment (init + segment concatenated), as ffprobe decodes it. */
export async function firstFrameOf(initAndSegment: string): Promise<FrameInfo> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-read_intervals',
    '%+#1',
    '-show_entries',
    'frame=key_frame,pts_time,pict_type',
    '-of',
    'json',
    initAndSegment,
  ]);
  const frame = (JSON.parse(stdout) as { frames: { key_frame: number; pts_time: string }[] }).frames[0];
  if (!frame) throw new Error(`no frame in ${initAndSegment}`);
  return { keyFrame: frame.key_frame === 1, ptsTime: Number(frame.pts_time) };
}
