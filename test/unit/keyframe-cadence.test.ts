import { describe, expect, it } from 'vitest';
import { KeyframeCadence, keyframeAdvice, keyframesAllowCopy } from '../../pipelines/keyframe-cadence.ts';

describe('keyframe cadence', () => {
  it('is the longest of the recent intervals, unknown before the second keyframe', () => {
    const c = new KeyframeCadence();
    expect(c.seconds()).toBeUndefined();
    c.add(1000);
    expect(c.seconds()).toBeUndefined();
    expect(c.openSeconds(9333)).toBeCloseTo(8.333, 3);
    c.add(9333);
    expect(c.seconds()).toBe(8.33);
    for (const t of [10_333, 11_333, 12_333]) c.add(t);
    // The 8.3 s gap is still among the last few.
    expect(c.seconds()).toBe(8.33);
    for (const t of [13_333, 14_333, 15_333, 16_333]) c.add(t);
    expect(c.seconds()).toBe(1);
  });

  it('starts over when timestamps go back (a new stream on the same connection)', () => {
    const c = new KeyframeCadence();
    for (const t of [0, 8333, 16_666]) c.add(t);
    c.add(100);
    expect(c.seconds()).toBeUndefined();
    c.add(1100);
    expect(c.seconds()).toBe(1);
  });

  it('lets a rung be copied only when its keyframes fall on the segment target', () => {
    expect(keyframesAllowCopy(1, 1)).toBe(true);
    expect(keyframesAllowCopy(1.03, 1)).toBe(true); // frame rounding
    expect(keyframesAllowCopy(0.5, 1)).toBe(true); // two GOPs a segment
    expect(keyframesAllowCopy(1, 2)).toBe(true);
    expect(keyframesAllowCopy(2, 1)).toBe(false);
    expect(keyframesAllowCopy(8.33, 1)).toBe(false); // x264's default 250 frames at 30 fps
    expect(keyframesAllowCopy(1.5, 1)).toBe(false);
    expect(keyframesAllowCopy(undefined, 1)).toBe(false);
  });

  it('tells the presenter what to change, in words and with the OBS setting, only when needed', () => {
    expect(keyframeAdvice(1, 1)).toBeUndefined();
    expect(keyframeAdvice(undefined, 1)).toBeUndefined();
    const advice = keyframeAdvice(8.33, 1)!;
    expect(advice).toMatch(/^Your encoder sends a keyframe every 8\.3 s\. Set it to 1 s/);
    expect(advice).toContain('Keyframe Interval 1 s');
  });
});
