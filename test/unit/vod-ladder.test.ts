import { describe, expect, it } from 'vitest';
import { capFrameRate, DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import type { VideoFacts } from '../../pipelines/source-facts.ts';

function video(width: number, height: number, fps = '30/1', rotation = 0): VideoFacts {
  const [num, den] = fps.split('/').map(Number) as [number, number];
  const swap = rotation === 90 || rotation === 270;
  return {
    codec: 'h264',
    width,
    height,
    displayWidth: swap ? height : width,
    displayHeight: swap ? width : height,
    rotation,
    frameRate: { num, den },
  };
}

const sizes = (v: VideoFacts) =>
  selectLadder(v, DEFAULT_LADDER_POLICY).rungs.map((r) => `${r.width}x${r.height}`);

describe('selectLadder', () => {
  it('gives a 1080p source four rungs, highest first', () => {
    expect(sizes(video(1920, 1080))).toEqual(['1920x1080', '1280x720', '854x480', '640x360']);
  });

  it('never upscales a 720p source', () => {
    expect(sizes(video(1280, 720))).toEqual(['1280x720', '854x480', '640x360']);
  });

  it('lets the short side decide, so portrait sources get portrait rungs', () => {
    expect(sizes(video(720, 1280))).toEqual(['720x1280', '480x854', '360x640']);
  });

  it('honours rotation metadata', () => {
    expect(sizes(video(1280, 720, '30/1', 90))).toEqual(['720x1280', '480x854', '360x640']);
  });

  it('adds a native rung when the source sits well between standard sizes', () => {
    expect(sizes(video(1600, 900))).toEqual(['1600x900', '1280x720', '854x480', '640x360']);
    // 1088 is within the margin of 1080: no near-duplicate rung.
    expect(sizes(video(1936, 1088)).map((s) => s.split('x')[1])).toEqual(['1080', '720', '480', '360']);
  });

  it('keeps a tiny source at its own size', () => {
    expect(sizes(video(320, 240))).toEqual(['320x240']);
  });

  it('caps 4K at 1080p and keeps even dimensions for odd aspect ratios', () => {
    expect(sizes(video(3840, 2160))[0]).toBe('1920x1080');
    for (const s of sizes(video(1001, 777))) {
      const [w, h] = s.split('x').map(Number) as [number, number];
      expect(w % 2).toBe(0);
      expect(h % 2).toBe(0);
    }
  });

  it('gives a bit budget that falls with the rung size', () => {
    const rungs = selectLadder(video(1920, 1080), DEFAULT_LADDER_POLICY).rungs;
    for (let i = 1; i < rungs.length; i++) {
      expect(rungs[i]!.maxBitrateKbps).toBeLessThan(rungs[i - 1]!.maxBitrateKbps);
    }
  });
});

describe('capFrameRate', () => {
  it('divides high frame rates by a whole number', () => {
    expect(capFrameRate({ num: 60, den: 1 }, 30)).toEqual({ num: 60, den: 2 });
    expect(capFrameRate({ num: 50, den: 1 }, 30)).toEqual({ num: 50, den: 2 });
    expect(capFrameRate({ num: 60000, den: 1001 }, 30)).toEqual({ num: 60000, den: 2002 });
    expect(capFrameRate({ num: 120, den: 1 }, 30)).toEqual({ num: 120, den: 4 });
  });

  it('leaves 30 and below alone', () => {
    expect(capFrameRate({ num: 30000, den: 1001 }, 30)).toEqual({ num: 30000, den: 1001 });
    expect(capFrameRate({ num: 25, den: 1 }, 30)).toEqual({ num: 25, den: 1 });
  });
});
