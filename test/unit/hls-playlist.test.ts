import { describe, expect, it } from 'vitest';
import {
  avcCodecFromInit,
  parseMasterPlaylist,
  parseMediaPlaylist,
  peakBitrate,
  segmentAt,
  writeMasterPlaylist,
  writeVodMediaPlaylist,
} from '../../pipelines/hls-playlist.ts';

const eventPlaylist = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:4.000000,
seg_00000.m4s
#EXTINF:4.000000,
seg_00001.m4s
#EXTINF:1.466667,
seg_00002.m4s
`;

describe('media playlists', () => {
  it('parses an EVENT playlist that is still growing', () => {
    const p = parseMediaPlaylist(eventPlaylist);
    expect(p.playlistType).toBe('EVENT');
    expect(p.ended).toBe(false);
    expect(p.mapUri).toBe('init_0.mp4');
    expect(p.segments.map((s) => s.uri)).toEqual(['seg_00000.m4s', 'seg_00001.m4s', 'seg_00002.m4s']);
  });

  it('rewrites it as a VOD playlist with ENDLIST', () => {
    const vod = writeVodMediaPlaylist(parseMediaPlaylist(eventPlaylist));
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vod.trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
    const again = parseMediaPlaylist(vod);
    expect(again.ended).toBe(true);
    expect(again.segments).toHaveLength(3);
    expect(again.targetDuration).toBe(4);
  });

  it('refuses text that is not a playlist', () => {
    expect(() => parseMediaPlaylist('<html>')).toThrow(/EXTM3U/);
  });
});

describe('segmentAt', () => {
  const segments = [2, 2, 1.5].map((duration, i) => ({ uri: `s${i}`, duration }));
  it('finds the segment playing at a time and the offset into it', () => {
    expect(segmentAt(segments, 0)).toEqual({ index: 0, offset: 0 });
    expect(segmentAt(segments, 3)).toEqual({ index: 1, offset: 1 });
    expect(segmentAt(segments, 99)).toEqual({ index: 2, offset: 1.499 });
    expect(segmentAt([], 1)).toBeUndefined();
  });
});

describe('peakBitrate (RFC 8216 4.3.4.2)', () => {
  it('ignores a short tail segment on its own', () => {
    const segments = [
      { duration: 4, bytes: 500_000 },
      { duration: 4, bytes: 1_000_000 },
      { duration: 0.1, bytes: 20_000 },
    ];
    // The tail alone would be 1.6 Mbit/s; it only counts joined with its neighbour.
    expect(peakBitrate(segments, 4)).toBe(2_000_000);
  });

  it('is at least every full-length segment rate', () => {
    const segments = [3, 1, 2, 5, 1].map((mb) => ({ duration: 4, bytes: mb * 100_000 }));
    expect(peakBitrate(segments, 4)).toBeGreaterThanOrEqual(500_000 * 2);
  });
});

describe('master playlists', () => {
  it('writes and reads back the variant attributes', () => {
    const text = writeMasterPlaylist({
      audio: { groupId: 'aud', name: 'Audio', uri: 'audio/index.m3u8' },
      variants: [
        {
          uri: '720p/index.m3u8',
          bandwidth: 2_600_000,
          averageBandwidth: 1_200_000,
          codecs: 'avc1.64001f,mp4a.40.2',
          width: 1280,
          height: 720,
          frameRate: 30,
        },
      ],
    });
    expect(text).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    const master = parseMasterPlaylist(text);
    expect(master.audioUris).toEqual(['audio/index.m3u8']);
    expect(master.variants[0]).toEqual({
      uri: '720p/index.m3u8',
      bandwidth: 2_600_000,
      averageBandwidth: 1_200_000,
      codecs: ['avc1.64001f', 'mp4a.40.2'],
      resolution: { width: 1280, height: 720 },
      frameRate: 30,
      audioGroup: 'aud',
    });
  });
});

describe('avcCodecFromInit', () => {
  it('reads profile, constraints and level from the avcC box', () => {
    const box = [0, 0, 0, 20, ...Buffer.from('avcC'), 1, 0x64, 0x00, 0x1f, 0xff];
    expect(avcCodecFromInit(Uint8Array.from([0, 0, 0, 0, ...box]))).toBe('avc1.64001f');
  });

  it('answers undefined when there is no H.264 track', () => {
    expect(avcCodecFromInit(new Uint8Array(64))).toBeUndefined();
  });
});
