import { rationalValue, type Rational } from './rational.ts';
import type { VideoFacts } from './source-facts.ts';

/** One standard rung: its short side in pixels and its bit budget. */
export interface RungSpec {
  readonly shortSide: number;
  /** Cap on the capped-CRF encode (kbit/s); static slides stay far below it. */
  readonly maxBitrateKbps: number;
  readonly crf: number;
}

export interface LadderPolicy {
  /** Standard rungs, any order. */
  readonly rungs: readonly RungSpec[];
  readonly maxFrameRate: number;
  /**
   * Add a rung at the source's own size when it exceeds the largest standard rung that fits
   * by more than this factor (a 900p source gets 900p, 720p, ...; a 1088p one just 1080p, ...).
   */
  readonly nativeRungMargin: number;
}

export const DEFAULT_LADDER_POLICY: LadderPolicy = {
  rungs: [
    { shortSide: 1080, maxBitrateKbps: 4500, crf: 23 },
    { shortSide: 720, maxBitrateKbps: 2500, crf: 23 },
    { shortSide: 480, maxBitrateKbps: 1200, crf: 24 },
    { shortSide: 360, maxBitrateKbps: 700, crf: 25 },
  ],
  maxFrameRate: 30,
  nativeRungMargin: 1.15,
};

export interface Rung {
  /** Named by the short side, so a portrait 720x1280 rung is "720p" too. */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly maxBitrateKbps: number;
  readonly bufferKbits: number;
  readonly crf: number;
}

export interface Ladder {
  readonly rungs: readonly Rung[];
  /** Output frame rate shared by every rung, so keyframes line up frame for frame. */
  readonly frameRate: Rational;
}

function even(n: number): number {
  return Math.max(2, 2 * Math.round(n / 2));
}

/**
 * Caps the frame rate by an integer divisor (60 -> 30, 50 -> 25, 59.94 -> 29.97) so motion cadence
 * stays regular instead of dropping frames unevenly.
 */
export function capFrameRate(source: Rational, max: number): Rational {
  const value = rationalValue(source);
  if (value <= max) return source;
  const divisor = Math.ceil(value / max - 1e-9);
  return { num: source.num, den: source.den * divisor };
}

function rungAt(shortSide: number, video: VideoFacts, spec: Omit<RungSpec, 'shortSide'>): Rung {
  const portrait = video.displayHeight > video.displayWidth;
  const aspect = portrait
    ? video.displayHeight / video.displayWidth
    : video.displayWidth / video.displayHeight;
  const short = even(shortSide);
  const long = even(shortSide * aspect);
  return {
    name: `${short}p`,
    width: portrait ? short : long,
    height: portrait ? long : short,
    maxBitrateKbps: spec.maxBitrateKbps,
    bufferKbits: spec.maxBitrateKbps * 2,
    crf: spec.crf,
  };
}

/** Bit budget for a non-standard size, interpolated by pixel count between its neighbours. */
function interpolatedSpec(shortSide: number, sorted: readonly RungSpec[]): Omit<RungSpec, 'shortSide'> {
  const above = sorted.find((r) => r.shortSide >= shortSide);
  const below = [...sorted].reverse().find((r) => r.shortSide <= shortSide);
  const base = below ?? above;
  if (!base) throw new Error('ladder policy has no rungs');
  const scale = (shortSide / base.shortSide) ** 2;
  const kbps = Math.round(base.maxBitrateKbps * scale);
  return {
    maxBitrateKbps: above ? Math.min(kbps, above.maxBitrateKbps) : kbps,
    crf: base.crf,
  };
}

/**
 * Chooses the rungs for a source: never larger than the source, the short side decides
 * (portrait sources get portrait rungs), even dimensions, highest first.
 */
export function selectLadder(video: VideoFacts, policy: LadderPolicy): Ladder {
  const sorted = [...policy.rungs].sort((a, b) => a.shortSide - b.shortSide);
  const sourceShort = Math.min(video.displayWidth, video.displayHeight);
  const fitting = sorted.filter((r) => r.shortSide <= sourceShort);
  const rungs = fitting.map((r) => rungAt(r.shortSide, video, r));
  const largestFit = fitting.at(-1)?.shortSide ?? 0;
  const largestStandard = sorted.at(-1)?.shortSide ?? 0;
  if (sourceShort < largestStandard && sourceShort > largestFit * policy.nativeRungMargin) {
    rungs.push(rungAt(sourceShort, video, interpolatedSpec(sourceShort, sorted)));
  }
  return {
    rungs: rungs.sort((a, b) => b.height * b.width - a.height * a.width),
    frameRate: capFrameRate(video.frameRate, policy.maxFrameRate),
  };
}
