import { parseRational, type Rational } from './rational.ts';

/** What onair needs to know about an upload, distilled from ffprobe's report. */
export interface SourceFacts {
  readonly container: string;
  readonly durationSeconds: number;
  readonly bitRate?: number;
  readonly video?: VideoFacts;
  readonly audio?: AudioFacts;
}

export interface VideoFacts {
  readonly codec: string;
  /** Coded size, as stored. */
  readonly width: number;
  readonly height: number;
  /** Size as shown to the viewer: sample aspect ratio applied, rotation honoured. */
  readonly displayWidth: number;
  readonly displayHeight: number;
  readonly rotation: number;
  readonly frameRate: Rational;
  readonly pixelFormat?: string;
}

export interface AudioFacts {
  readonly codec: string;
  readonly channels: number;
  readonly sampleRate: number;
}

/** The subset of ffprobe's output (as parsed by fluent-ffmpeg) that we read. */
export interface ProbeReport {
  readonly format?: { format_name?: string; duration?: number | string; bit_rate?: number | string };
  readonly streams?: readonly ProbeStream[];
}

export interface ProbeStream {
  readonly codec_type?: string;
  readonly codec_name?: string;
  readonly width?: number;
  readonly height?: number;
  readonly sample_aspect_ratio?: string;
  readonly avg_frame_rate?: string;
  readonly r_frame_rate?: string;
  readonly pix_fmt?: string;
  readonly channels?: number;
  readonly sample_rate?: number | string;
  readonly duration?: number | string;
  readonly rotation?: number | string;
  readonly tags?: Record<string, string | number | undefined>;
  readonly disposition?: Record<string, number | undefined>;
}

export type SourceVerdict =
  { readonly ok: true; readonly facts: SourceFacts } | { readonly ok: false; readonly reason: string };

const IMAGE_CODECS = new Set(['mjpeg', 'png', 'bmp', 'gif', 'webp', 'tiff']);

function toNumber(v: number | string | undefined): number | undefined {
  if (v === undefined || v === 'N/A') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Rotation in degrees, normalised to 0, 90, 180 or 270. */
function rotationOf(stream: ProbeStream): number {
  const raw = toNumber(stream.rotation) ?? toNumber(stream.tags?.rotate);
  if (raw === undefined) return 0;
  return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
}

function videoFacts(stream: ProbeStream): VideoFacts | undefined {
  const width = stream.width ?? 0;
  const height = stream.height ?? 0;
  if (width <= 0 || height <= 0) return undefined;
  const frameRate = parseRational(stream.avg_frame_rate) ?? parseRational(stream.r_frame_rate);
  if (!frameRate) return undefined;
  const sar = parseRational(stream.sample_aspect_ratio?.replace(':', '/'));
  const sarValue = sar ? sar.num / sar.den : 1;
  let displayWidth = Math.round(width * sarValue);
  let displayHeight = height;
  const rotation = rotationOf(stream);
  if (rotation === 90 || rotation === 270) [displayWidth, displayHeight] = [displayHeight, displayWidth];
  return {
    codec: stream.codec_name ?? 'unknown',
    width,
    height,
    displayWidth,
    displayHeight,
    rotation,
    frameRate,
    ...(stream.pix_fmt ? { pixelFormat: stream.pix_fmt } : {}),
  };
}

/** The video and audio a live feed carries (a live probe has no duration to judge). */
export function judgeLiveSource(report: ProbeReport): { video?: VideoFacts; audio?: AudioFacts } {
  const streams = report.streams ?? [];
  const videoStream = streams.find((s) => s.codec_type === 'video');
  const audioStream = streams.find((s) => s.codec_type === 'audio' && (s.channels ?? 0) > 0);
  const video = videoStream ? videoFacts(videoStream) : undefined;
  return {
    ...(video ? { video } : {}),
    ...(audioStream
      ? {
          audio: {
            codec: audioStream.codec_name ?? 'unknown',
            channels: audioStream.channels ?? 2,
            sampleRate: toNumber(audioStream.sample_rate) ?? 48_000,
          },
        }
      : {}),
  };
}

/**
 * Decides whether a probed upload can become a stream, and if so distils its facts.
 * Refusals carry a reason written for the marketer who uploaded the file.
 */
export function judgeSource(report: ProbeReport): SourceVerdict {
  const streams = report.streams ?? [];
  const videoStream = streams.find(
    (s) =>
      s.codec_type === 'video' &&
      s.disposition?.attached_pic !== 1 &&
      !(IMAGE_CODECS.has(s.codec_name ?? '') && streams.length > 1),
  );
  const audioStream = streams.find((s) => s.codec_type === 'audio' && (s.channels ?? 0) > 0);
  const video = videoStream ? videoFacts(videoStream) : undefined;
  const audio: AudioFacts | undefined = audioStream
    ? {
        codec: audioStream.codec_name ?? 'unknown',
        channels: audioStream.channels ?? 2,
        sampleRate: toNumber(audioStream.sample_rate) ?? 48_000,
      }
    : undefined;

  if (!video && !audio) {
    return { ok: false, reason: 'The file has no usable video or audio track.' };
  }
  if (video && IMAGE_CODECS.has(video.codec) && !audio) {
    return { ok: false, reason: 'The file is a still image, not a recording.' };
  }
  const durations = [report.format?.duration, videoStream?.duration, audioStream?.duration]
    .map(toNumber)
    .filter((d): d is number => d !== undefined && d > 0);
  const durationSeconds = durations.length > 0 ? Math.max(...durations) : 0;
  if (durationSeconds <= 0) {
    return { ok: false, reason: 'The recording has no duration: it is empty or incomplete.' };
  }
  const bitRate = toNumber(report.format?.bit_rate);
  return {
    ok: true,
    facts: {
      container: report.format?.format_name ?? 'unknown',
      durationSeconds,
      ...(bitRate !== undefined ? { bitRate } : {}),
      ...(video ? { video } : {}),
      ...(audio ? { audio } : {}),
    },
  };
}
