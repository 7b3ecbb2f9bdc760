import { describe, expect, it } from 'vitest';
import { writeMediaPlaylist, type MediaPlaylist, type PartialSegment } from '../../pipelines/hls-playlist.ts';
import { blockingVerdict, playlistEdge } from '../../pipelines/ll-hls-blocking.ts';
import { lowLatencyPlaylist, renditionReport } from '../../pipelines/ll-hls-window.ts';

const seg = (msn: number) => `p1/seg_${String(msn).padStart(5, '0')}.m4s`;
const part = (msn: number, i: number) => `p1/part_${String(msn).padStart(5, '0')}_${i}.m4s`;
const partsOf = (msn: number, n = 3): PartialSegment[] =>
  Array.from({ length: n }, (_, i) => ({ uri: part(msn, i), duration: 1 / 3, independent: i === 0 }));
const next = (uri: string) => {
  const m = /seg_(\d+)\.m4s$/.exec(uri);
  return m ? seg(Number(m[1]) + 1) : undefined;
};

/** The regular live window: 1 s segments 4..9. */
const window: MediaPlaylist = {
  targetDuration: 1,
  mediaSequence: 4,
  mapUri: 'p1/init.mp4',
  segments: [4, 5, 6, 7, 8, 9].map((msn) => ({ uri: seg(msn), duration: 1 })),
  ended: false,
};
const opts = { segmentSeconds: 1, partSeconds: 1 / 3 };
const known = (uri: string) => {
  const m = /seg_(\d+)\.m4s$/.exec(uri);
  return m ? partsOf(Number(m[1])) : undefined;
};

describe('a live LL-HLS rendition playlist', () => {
  it('lists parts for the last three target durations, the pending parts, the hint and rendition reports', () => {
    const pending = { segmentUri: seg(10), parts: partsOf(10, 2), nextPartUri: part(10, 2) };
    const playlist = lowLatencyPlaylist(window, known, pending, next, opts, [
      { uri: '../360p/index.m3u8', lastMsn: 10, lastPart: 1 },
    ]);
    expect(playlist.segments.map((s) => s.parts?.length ?? 0)).toEqual([0, 0, 0, 3, 3, 3]);
    expect(playlist.lowLatency!.pendingParts.map((p) => p.uri)).toEqual([part(10, 0), part(10, 1)]);
    expect(playlist.lowLatency!.preloadHint).toBe(part(10, 2));
    const text = writeMediaPlaylist(playlist);
    expect(text).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1');
    expect(text).toContain(`#EXT-X-PART:DURATION=0.33333,URI="${part(10, 1)}"`);
    expect(text).toContain(`#EXT-X-PART:DURATION=0.33333,URI="${part(9, 0)}",INDEPENDENT=YES`);
    expect(text).toContain('#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=10,LAST-PART=1');
    expect(renditionReport('../720p/index.m3u8', playlist)).toEqual({
      uri: '../720p/index.m3u8',
      lastMsn: 10,
      lastPart: 1,
    });
    // What an origin reads off the text to judge blocking requests.
    const edge = playlistEdge(text);
    expect(edge).toEqual({ lastMsn: 9, pendingParts: 2, ended: false });
    expect(blockingVerdict(edge, { msn: 10, part: 1 })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 10, part: 2 })).toBe('wait');
    expect(blockingVerdict(edge, { msn: 13, part: 0 })).toBe('too-far');
  });

  it('keeps listing the parts of a segment closed but not listed yet, then hints the next segment', () => {
    // Segment 10 is closed (its storage write under way) and segment 11 has begun.
    const pending = { segmentUri: seg(11), parts: partsOf(11, 1), nextPartUri: part(11, 1) };
    const playlist = lowLatencyPlaylist(window, known, pending, next, opts);
    expect(playlist.lowLatency!.pendingParts.map((p) => p.uri)).toEqual([
      part(10, 0),
      part(10, 1),
      part(10, 2),
    ]);
    expect(playlist.lowLatency!.preloadHint).toBe(part(11, 0));
    expect(renditionReport('x', playlist)).toEqual({ uri: 'x', lastMsn: 10, lastPart: 2 });
    // What a player saw just before (segment 10 in progress) is still all there.
    const before = lowLatencyPlaylist(
      window,
      known,
      { segmentUri: seg(10), parts: partsOf(10), nextPartUri: part(11, 0) },
      next,
      opts,
    );
    expect(writeMediaPlaylist(playlist)).toBe(writeMediaPlaylist(before));
    const edge = playlistEdge(writeMediaPlaylist(playlist));
    expect(blockingVerdict(edge, { msn: 10, part: 2 })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 11, part: 0 })).toBe('wait');
  });

  it("lists no pending parts that do not follow the last listed segment when that segment's parts are unknown", () => {
    const pending = { segmentUri: seg(11), parts: partsOf(11, 1), nextPartUri: part(11, 1) };
    const playlist = lowLatencyPlaylist(
      window,
      (uri) => (uri === seg(10) ? undefined : known(uri)),
      pending,
      next,
      opts,
    );
    expect(playlist.lowLatency!.pendingParts).toEqual([]);
    expect(playlist.lowLatency!.preloadHint).toBeUndefined();
    expect(renditionReport('x', playlist)).toEqual({ uri: 'x', lastMsn: 9, lastPart: 2 });
  });

  it('drops every LL tag once the stream has ended', () => {
    const playlist = lowLatencyPlaylist({ ...window, ended: true }, known, undefined, next, opts);
    const text = writeMediaPlaylist(playlist);
    expect(text).toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('#EXT-X-PART');
    expect(text).not.toContain('SERVER-CONTROL');
    expect(playlistEdge(text)).toEqual({ lastMsn: 9, pendingParts: 0, ended: true });
  });
});
