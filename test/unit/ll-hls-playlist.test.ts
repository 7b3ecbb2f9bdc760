import { describe, expect, it } from 'vitest';
import { blockingVerdict, parseBlockingRequest, playlistEdge } from '../../pipelines/ll-hls-blocking.ts';
import { parseMediaPlaylist, writeMediaPlaylist, type MediaPlaylist } from '../../pipelines/hls-playlist.ts';

const part = (msn: number, i: number, independent = i === 0) => ({
  uri: `p${msn}.${i}.m4s`,
  duration: 1 / 3,
  independent,
});

const live: MediaPlaylist = {
  targetDuration: 1,
  mediaSequence: 10,
  mapUri: 'init.mp4',
  segments: [
    { uri: 's10.m4s', duration: 1, programDateTime: '2026-12-01T10:00:00.000Z' },
    { uri: 's11.m4s', duration: 1, parts: [part(11, 0), part(11, 1), part(11, 2)] },
    { uri: 's12.m4s', duration: 1, parts: [part(12, 0), part(12, 1), part(12, 2)] },
  ],
  ended: false,
  lowLatency: {
    partTarget: 1 / 3,
    partHoldBack: 1,
    pendingParts: [part(13, 0)],
    preloadHint: 'p13.1.m4s',
    renditionReports: [{ uri: '../360p/index.m3u8', lastMsn: 13, lastPart: 0 }],
  },
};

describe('LL-HLS media playlists (RFC 8216bis)', () => {
  it('carry server control, part info, parts before their segment, pending parts, a preload hint and rendition reports', () => {
    const text = writeMediaPlaylist(live);
    const lines = text.trim().split('\n');
    expect(lines[1]).toBe('#EXT-X-VERSION:9');
    expect(lines).toContain('#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.000');
    expect(lines).toContain('#EXT-X-PART-INF:PART-TARGET=0.33333');
    const s12 = lines.indexOf('s12.m4s');
    expect(lines.slice(s12 - 4, s12)).toEqual([
      '#EXT-X-PART:DURATION=0.33333,URI="p12.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.33333,URI="p12.1.m4s"',
      '#EXT-X-PART:DURATION=0.33333,URI="p12.2.m4s"',
      '#EXTINF:1.000000,',
    ]);
    expect(lines.slice(-3)).toEqual([
      '#EXT-X-PART:DURATION=0.33333,URI="p13.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p13.1.m4s"',
      '#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=13,LAST-PART=0',
    ]);
    // PART-HOLD-BACK at least twice PART-TARGET (4.4.3.8).
    expect(live.lowLatency!.partHoldBack).toBeGreaterThanOrEqual(2 * live.lowLatency!.partTarget);
  });

  it('read back as written', () => {
    const back = parseMediaPlaylist(writeMediaPlaylist(live));
    expect(back.segments[2]!.parts).toHaveLength(3);
    expect(back.segments[0]!.parts).toBeUndefined();
    expect(back.lowLatency).toMatchObject({
      pendingParts: [{ uri: 'p13.0.m4s', independent: true }],
      preloadHint: 'p13.1.m4s',
      renditionReports: [{ uri: '../360p/index.m3u8', lastMsn: 13, lastPart: 0 }],
    });
    expect(back.lowLatency!.partTarget).toBeCloseTo(1 / 3, 4);
  });

  it('lose their LL-HLS tags once ended (the replay is a plain playlist)', () => {
    const text = writeMediaPlaylist({ ...live, ended: true });
    expect(text).not.toMatch(/EXT-X-PART|PRELOAD-HINT|SERVER-CONTROL|RENDITION-REPORT/);
    expect(text).toContain('#EXT-X-VERSION:7');
  });
});

describe('blocking playlist reload (RFC 8216bis 6.2.5.2)', () => {
  const q = (s: string) => parseBlockingRequest(new URLSearchParams(s));

  it('reads _HLS_msn and _HLS_part, refusing a part without a segment and non-canonical numbers', () => {
    expect(q('')).toBe('none');
    expect(q('_HLS_msn=12')).toEqual({ msn: 12, part: undefined });
    expect(q('_HLS_msn=12&_HLS_part=2')).toEqual({ msn: 12, part: 2 });
    for (const bad of [
      '_HLS_part=1',
      '_HLS_msn=',
      '_HLS_msn=-1',
      '_HLS_msn=012',
      '_HLS_msn=1e3',
      '_HLS_msn=1&_HLS_part=x',
      `_HLS_msn=${'9'.repeat(11)}`,
    ])
      expect(q(bad), bad).toBe('invalid');
  });

  it('answers what the playlist holds, holds what comes next, refuses what is more than two segments ahead', () => {
    const edge = { lastMsn: 12, pendingParts: 1, ended: false };
    expect(blockingVerdict(edge, { msn: 12, part: undefined })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 11, part: 2 })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 13, part: 0 })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 13, part: 1 })).toBe('wait');
    expect(blockingVerdict(edge, { msn: 13, part: undefined })).toBe('wait');
    expect(blockingVerdict(edge, { msn: 14, part: 0 })).toBe('wait');
    expect(blockingVerdict(edge, { msn: 15, part: undefined })).toBe('too-far');
    expect(blockingVerdict({ ...edge, ended: true }, { msn: 15, part: undefined })).toBe('ready');
  });
});

describe('the edge of a media playlist, as an origin judges blocking requests by it', () => {
  it('is the last whole segment and the parts listed after it', () => {
    // MEDIA-SEQUENCE 10, segments 10 to 12, one part of segment 13 (and a preload hint, no part).
    expect(playlistEdge(writeMediaPlaylist(live))).toEqual({ lastMsn: 12, pendingParts: 1, ended: false });
    const noPending = { ...live, lowLatency: { ...live.lowLatency!, pendingParts: [] } };
    expect(playlistEdge(writeMediaPlaylist(noPending))).toEqual({
      lastMsn: 12,
      pendingParts: 0,
      ended: false,
    });
  });

  it("counts the parts listed above a segment as that segment's, not as pending ones", () => {
    const text = [
      '#EXTM3U',
      '#EXT-X-TARGETDURATION:1',
      '#EXT-X-PART-INF:PART-TARGET=0.33333',
      '#EXT-X-MEDIA-SEQUENCE:4',
      '#EXT-X-PART:DURATION=0.33333,URI="p4.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.33333,URI="p4.1.m4s"',
      '#EXT-X-PART:DURATION=0.33333,URI="p4.2.m4s"',
      '#EXTINF:1.000,',
      's4.m4s',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p5.0.m4s"',
      '',
    ].join('\n');
    expect(playlistEdge(text)).toEqual({ lastMsn: 4, pendingParts: 0, ended: false });
    // CRLF line ends and blanks are read the same.
    expect(playlistEdge(text.replaceAll('\n', '\r\n'))).toEqual({
      lastMsn: 4,
      pendingParts: 0,
      ended: false,
    });
  });

  it('says when the playlist has ended', () => {
    const text = writeMediaPlaylist({ ...live, ended: true });
    expect(playlistEdge(text)).toMatchObject({ lastMsn: 12, ended: true });
    // An ended playlist answers whatever is asked, however far ahead.
    expect(blockingVerdict(playlistEdge(text), { msn: 99, part: 3 })).toBe('ready');
  });

  it('has no whole segment yet at the start of a stream (only parts, or nothing)', () => {
    const start = ['#EXTM3U', '#EXT-X-TARGETDURATION:1', '#EXT-X-MEDIA-SEQUENCE:0'];
    expect(playlistEdge([...start, ''].join('\n'))).toEqual({ lastMsn: -1, pendingParts: 0, ended: false });
    const parts = [...start, '#EXT-X-PART:DURATION=0.33333,URI="p0.0.m4s",INDEPENDENT=YES', ''].join('\n');
    const edge = playlistEdge(parts);
    expect(edge).toEqual({ lastMsn: -1, pendingParts: 1, ended: false });
    expect(blockingVerdict(edge, { msn: 0, part: 0 })).toBe('ready');
    expect(blockingVerdict(edge, { msn: 0, part: 1 })).toBe('wait');
    expect(blockingVerdict(edge, { msn: 2, part: undefined })).toBe('too-far');
    // Without EXT-X-MEDIA-SEQUENCE the first segment is 0 (RFC 8216 4.3.3.2).
    expect(playlistEdge('#EXTM3U\n#EXTINF:1.0,\ns0.m4s\n')).toEqual({
      lastMsn: 0,
      pendingParts: 0,
      ended: false,
    });
  });
});
