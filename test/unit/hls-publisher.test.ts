import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMediaPlaylist, type MediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { publishablePlaylist } from '../../pipelines/hls-publisher.ts';

const text = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:2.000000,
seg_00000.m4s
#EXTINF:2.000000,
seg_00001.m4s
#EXTINF:1.000000,
seg_00002.m4s
#EXT-X-ENDLIST
`;

describe('publishablePlaylist: no playlist names a file not yet stored', () => {
  const playlist = parseMediaPlaylist(text);

  it('publishes the whole playlist once everything is stored', () => {
    expect(publishablePlaylist(playlist, () => true)).toBe(playlist);
  });

  it('publishes nothing before the init section is stored', () => {
    expect(publishablePlaylist(playlist, (uri) => uri !== 'init_0.mp4')).toBeUndefined();
  });

  it('cuts at the first missing segment, and an unfinished list has no end', () => {
    const stored = new Set(['init_0.mp4', 'seg_00000.m4s', 'seg_00002.m4s']);
    const published = publishablePlaylist(playlist, (uri) => stored.has(uri));
    expect(published?.segments.map((s) => s.uri)).toEqual(['seg_00000.m4s']);
    expect(published?.ended).toBe(false);
  });

  it('never names an unstored file, whatever is stored', () => {
    const uris = ['init_0.mp4', ...playlist.segments.map((s) => s.uri)];
    fc.assert(
      fc.property(fc.subarray(uris), (storedList) => {
        const stored = new Set(storedList);
        const published: MediaPlaylist | undefined = publishablePlaylist(playlist, (uri) => stored.has(uri));
        if (!published) return;
        expect(stored.has(published.mapUri!)).toBe(true);
        for (const s of published.segments) expect(stored.has(s.uri)).toBe(true);
        // A prefix of the original, in order.
        expect(published.segments).toEqual(playlist.segments.slice(0, published.segments.length));
      }),
    );
  });
});
