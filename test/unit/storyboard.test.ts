import { describe, expect, it } from 'vitest';
import { fitInside, placeTiles, stillsInterval, writeStoryboardVtt } from '../../pipelines/storyboard.ts';

const layout = { tileWidth: 160, tileHeight: 90, columns: 10, rows: 10 };

describe('storyboard', () => {
  it('places tiles row by row and starts a new sheet when one is full', () => {
    const tiles = placeTiles(105, layout);
    expect(tiles[11]).toEqual({ index: 11, sheet: 0, x: 160, y: 90 });
    expect(tiles[100]).toEqual({ index: 100, sheet: 1, x: 0, y: 0 });
  });

  it('indexes the tiles in WebVTT with media fragments, clipped to the duration', () => {
    const vtt = writeStoryboardVtt(placeTiles(3, layout), layout, 2, 5, (n) => `storyboard-${n}.jpg`);
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    expect(vtt).toContain('00:00:02.000 --> 00:00:04.000\nstoryboard-0.jpg#xywh=160,0,160,90');
    expect(vtt).toContain('00:00:04.000 --> 00:00:05.000\nstoryboard-0.jpg#xywh=320,0,160,90');
  });

  it('spaces stills 2 to 10 seconds apart', () => {
    expect(stillsInterval(60)).toBe(2);
    expect(stillsInterval(3600)).toBe(10);
  });

  it('fits frames in a box with even sides', () => {
    expect(fitInside(1920, 1080, 320)).toEqual({ width: 320, height: 180 });
    expect(fitInside(720, 1280, 320)).toEqual({ width: 180, height: 320 });
  });
});
