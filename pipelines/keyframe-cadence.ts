/**
 * How often a presenter's encoder sends keyframes, from what the ingest receives, and what follows
 * from it. Every rung must cut segments at the target length: a copied top rung can only cut where
 * the source has keyframes, so it is copied only when they come at least that often; otherwise it
 * is encoded with fixed GOPs like the others (twice the CPU), and the presenter is told what to set.
 * Pure: timestamps in, decisions out.
 */

/** Keyframes remembered: the cadence is the longest of the last few intervals. */
const REMEMBERED = 6;

export class KeyframeCadence {
  readonly #times: number[] = [];

  /** A keyframe's decode timestamp (ms), in stream order. A timestamp going back starts over. */
  add(dtsMs: number): void {
    const last = this.#times.at(-1);
    if (last !== undefined && dtsMs <= last) this.#times.length = 0;
    this.#times.push(dtsMs);
    if (this.#times.length > REMEMBERED) this.#times.shift();
  }

  /** Seconds between keyframes: the longest recent interval (0.01 s). Undefined until two keyframes. */
  seconds(): number | undefined {
    const t = this.#times;
    if (t.length < 2) return undefined;
    let longest = 0;
    for (let i = 1; i < t.length; i++) longest = Math.max(longest, t[i]! - t[i - 1]!);
    return Math.round(longest / 10) / 100;
  }

  /**
   * Seconds since the last keyframe, on the stream's clock `nowDtsMs` (the latest video timestamp):
   * an encoder that sent one keyframe and nothing for 8 s is known to be slow before its second.
   */
  openSeconds(nowDtsMs: number): number | undefined {
    const last = this.#times.at(-1);
    return last === undefined ? undefined : Math.max(0, nowDtsMs - last) / 1000;
  }
}

/** Keyframes this much later than the segment target still let a copied rung cut at it (frame rounding). */
const SLACK_SECONDS = 0.05;

/** Whether a source with keyframes every `keyframeSeconds` can be copied as a rung cut at `segmentSeconds`. */
export function keyframesAllowCopy(keyframeSeconds: number | undefined, segmentSeconds: number): boolean {
  if (keyframeSeconds === undefined) return false;
  // Keyframes every 1 s fit 1 s segments; every 0.5 s too (a segment spans two GOPs).
  const gops = Math.round(segmentSeconds / keyframeSeconds);
  return gops >= 1 && Math.abs(gops * keyframeSeconds - segmentSeconds) <= SLACK_SECONDS;
}

/**
 * What to tell the presenter, or undefined when the keyframes are right. OBS names the setting
 * "Keyframe Interval" (Settings, Output, Output Mode: Advanced, Streaming); 0 there means x264's
 * default of 250 frames, which is what most presenters send.
 */
export function keyframeAdvice(
  keyframeSeconds: number | undefined,
  segmentSeconds: number,
): string | undefined {
  if (keyframeSeconds === undefined || keyframesAllowCopy(keyframeSeconds, segmentSeconds)) return undefined;
  const target = Number.isInteger(segmentSeconds) ? String(segmentSeconds) : segmentSeconds.toFixed(1);
  return (
    `Your encoder sends a keyframe every ${keyframeSeconds.toFixed(1)} s. Set it to ${target} s to save server CPU ` +
    `(OBS: Settings > Output > Output Mode: Advanced > Streaming > Keyframe Interval ${target} s). ` +
    'Viewers see no difference: onair re-encodes the stream to cut it every ' +
    `${target} s either way.`
  );
}
