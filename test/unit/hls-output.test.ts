import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mapUriAt,
  parseMasterPlaylist,
  parseMediaPlaylist,
  type MediaPlaylist,
} from '../../pipelines/hls-playlist.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import { finalizeHls, MASTER_PLAYLIST, previewMasterText } from '../../src/media/hls-output.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';

const ladder = selectLadder(
  {
    codec: 'h264',
    width: 854,
    height: 480,
    displayWidth: 854,
    displayHeight: 480,
    rotation: 0,
    frameRate: { num: 30, den: 1 },
  },
  DEFAULT_LADDER_POLICY,
);

/** The start of an fMP4 init section as far as the codec string goes: an avcC box (High, level 3.1 or 3.0). */
function initHead(profile: number, level: number): Buffer {
  return Buffer.concat([
    Buffer.from([0, 0, 0, 16]),
    Buffer.from('avcC'),
    Buffer.from([1, profile, 0x00, level, 0xff, 0xe1, 0x00, 0x00]),
  ]);
}

describe('previewMasterText', () => {
  it('is undefined until every video rendition has its init head', () => {
    expect(ladder.rungs.map((r) => r.name)).toEqual(['480p', '360p']);
    expect(previewMasterText(ladder, true, new Map(), 0)).toBeUndefined();
    expect(previewMasterText(ladder, true, new Map([['480p', initHead(0x64, 0x1e)]]), 0)).toBeUndefined();
  });

  it('names every rendition with estimated bandwidths and exact codecs, starting at 0', () => {
    const heads = new Map([
      ['480p', initHead(0x64, 0x1f)],
      ['360p', initHead(0x64, 0x1e)],
    ]);
    const text = previewMasterText(ladder, true, heads, 0)!;
    expect(text).toContain('#EXT-X-START:TIME-OFFSET=0.000,PRECISE=YES');
    const master = parseMasterPlaylist(text);
    expect(master.audioUris).toEqual(['audio/index.m3u8']);
    expect(master.variants).toEqual([
      {
        uri: '480p/index.m3u8',
        bandwidth: 1_200_000 + 140_000,
        codecs: ['avc1.64001f', 'mp4a.40.2'],
        resolution: { width: 854, height: 480 },
        frameRate: 30,
        audioGroup: 'aud',
      },
      {
        uri: '360p/index.m3u8',
        bandwidth: 700_000 + 140_000,
        codecs: ['avc1.64001e', 'mp4a.40.2'],
        resolution: { width: 640, height: 360 },
        frameRate: 30,
        audioGroup: 'aud',
      },
    ]);
  });

  it('leaves players at the live edge without a start offset, and needs no head for audio', () => {
    const heads = new Map([
      ['480p', initHead(0x64, 0x1f)],
      ['360p', initHead(0x64, 0x1e)],
    ]);
    expect(previewMasterText(ladder, false, heads, undefined)).not.toContain('EXT-X-START');
    expect(previewMasterText(ladder, false, heads, undefined)).not.toContain('mp4a');
    const audioOnly = parseMasterPlaylist(previewMasterText(undefined, true, new Map(), 0)!);
    expect(audioOnly.variants).toEqual([
      { uri: 'audio/index.m3u8', bandwidth: 140_000, codecs: ['mp4a.40.2'] },
    ]);
  });

  it('refuses an init section without an H.264 configuration', () => {
    const heads = new Map([
      ['480p', Buffer.from('not an init section at all')],
      ['360p', initHead(0x64, 0x1e)],
    ]);
    expect(() => previewMasterText(ladder, true, heads, 0)).toThrow(/480p has no H.264 configuration/);
  });
});

describe('finalizeHls over local storage', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-finalize-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Records every put (in order) and every stat of the storage it wraps. */
  function recording(inner: Storage) {
    const puts: string[] = [];
    const stats: string[] = [];
    const storage: Storage = Object.assign(Object.create(inner) as Storage, {
      putBytes: (key: string, body: Buffer | string, opts?: { contentType?: string }) => {
        puts.push(key);
        return inner.putBytes(key, body, opts);
      },
      stat: (key: string) => {
        stats.push(key);
        return inner.stat(key);
      },
    });
    return { storage, puts, stats };
  }

  it('stores each VOD playlist, then the master last, with measured bit rates', async () => {
    const local = new LocalStorage(path.join(root, 'media'));
    const prefix = 'assets/as_1/rev_1';
    const put = (key: string, bytes: number | Buffer) =>
      local.putBytes(`${prefix}/${key}`, typeof bytes === 'number' ? Buffer.alloc(bytes, 1) : bytes);
    // 480p: two periods (a new init after a discontinuity), in period folders.
    await put('480p/p0001/init_0.mp4', Buffer.concat([initHead(0x64, 0x1f), Buffer.alloc(200)]));
    await put('480p/p0001/seg_00000.m4s', 500_000);
    await put('480p/p0002/init_0.mp4', Buffer.concat([initHead(0x64, 0x28), Buffer.alloc(200)]));
    await put('480p/p0002/seg_00000.m4s', 300_000);
    await put('360p/init_1.mp4', Buffer.concat([initHead(0x64, 0x1e), Buffer.alloc(200)]));
    await put('360p/seg_00000.m4s', 250_000);
    await put('360p/seg_00001.m4s', 150_000);
    await put('audio/init_2.mp4', 700);
    await put('audio/seg_00000.m4s', 64_000);
    await put('audio/seg_00001.m4s', 64_000);
    // What was there while encoding: the preview master.
    await local.putBytes(`${prefix}/${MASTER_PLAYLIST}`, '#EXTM3U\n#EXT-X-START:TIME-OFFSET=0\n');

    const event = (segments: MediaPlaylist['segments'], mapUri?: string): MediaPlaylist => ({
      targetDuration: 4,
      mediaSequence: 0,
      playlistType: 'EVENT',
      ...(mapUri ? { mapUri } : {}),
      segments,
      ended: true,
    });
    const playlists = new Map<string, MediaPlaylist>([
      [
        '480p',
        event([
          { uri: 'p0001/seg_00000.m4s', duration: 4, mapUri: 'p0001/init_0.mp4' },
          { uri: 'p0002/seg_00000.m4s', duration: 2, discontinuity: true, mapUri: 'p0002/init_0.mp4' },
        ]),
      ],
      [
        '360p',
        event(
          [
            { uri: 'seg_00000.m4s', duration: 4 },
            { uri: 'seg_00001.m4s', duration: 2 },
          ],
          'init_1.mp4',
        ),
      ],
      [
        'audio',
        event(
          [
            { uri: 'seg_00000.m4s', duration: 4 },
            { uri: 'seg_00001.m4s', duration: 2 },
          ],
          'init_2.mp4',
        ),
      ],
    ]);
    // The sink reported the 360p and audio sizes; the 480p ones are looked up.
    const knownSizes = new Map([
      ['360p/seg_00000.m4s', 250_000],
      ['360p/seg_00001.m4s', 150_000],
      ['audio/seg_00000.m4s', 64_000],
      ['audio/seg_00001.m4s', 64_000],
    ]);

    const { storage, puts, stats } = recording(local);
    const info = await finalizeHls(storage, prefix, ladder, true, playlists, knownSizes);

    expect(puts.at(-1)).toBe(`${prefix}/${MASTER_PLAYLIST}`);
    expect([...puts].sort()).toEqual(
      [
        `${prefix}/360p/index.m3u8`,
        `${prefix}/480p/index.m3u8`,
        `${prefix}/audio/index.m3u8`,
        `${prefix}/${MASTER_PLAYLIST}`,
      ].sort(),
    );
    expect(stats.sort()).toEqual([
      `${prefix}/480p/p0001/seg_00000.m4s`,
      `${prefix}/480p/p0002/seg_00000.m4s`,
    ]);

    // The codec string comes from the first init section; sizes and rates are measured.
    expect(info.map((r) => [r.name, r.kind, r.codecs, r.bytes, r.segments])).toEqual([
      ['480p', 'video', 'avc1.64001f', 800_000, 2],
      ['360p', 'video', 'avc1.64001e', 400_000, 2],
      ['audio', 'audio', 'mp4a.40.2', 128_000, 2],
    ]);
    expect(info[0]).toMatchObject({ width: 854, height: 480, frameRate: 30, playlist: '480p/index.m3u8' });
    expect(info[0]!.averageBitrate).toBe(Math.ceil((800_000 * 8) / 6));
    // RFC 8216 4.3.4.2: any run of 0.5 to 1.5 target durations, so the dense 2 s tail too.
    expect(info[0]!.peakBitrate).toBe(Math.ceil((300_000 * 8) / 2));

    const vod = parseMediaPlaylist((await local.readText(`${prefix}/480p/index.m3u8`))!);
    expect(vod).toMatchObject({ playlistType: 'VOD', ended: true, mediaSequence: 0 });
    expect(vod.segments.map((s, i) => [s.uri, mapUriAt(vod, i), s.discontinuity])).toEqual([
      ['p0001/seg_00000.m4s', 'p0001/init_0.mp4', undefined],
      ['p0002/seg_00000.m4s', 'p0002/init_0.mp4', true],
    ]);

    const masterText = (await local.readText(`${prefix}/${MASTER_PLAYLIST}`))!;
    expect(masterText).not.toContain('EXT-X-START');
    const master = parseMasterPlaylist(masterText);
    expect(master.audioUris).toEqual(['audio/index.m3u8']);
    const audioPeak = info[2]!.peakBitrate;
    expect(audioPeak).toBe(Math.ceil((64_000 * 8) / 2));
    expect(master.variants.map((v) => [v.uri, v.bandwidth, v.codecs])).toEqual([
      ['480p/index.m3u8', info[0]!.peakBitrate + audioPeak, ['avc1.64001f', 'mp4a.40.2']],
      ['360p/index.m3u8', info[1]!.peakBitrate + audioPeak, ['avc1.64001e', 'mp4a.40.2']],
    ]);
  });

  it('stores nothing when a segment is missing from storage', async () => {
    const local = new LocalStorage(path.join(root, 'missing'));
    const prefix = 'assets/as_2/rev_1';
    await local.putBytes(`${prefix}/audio/init_0.mp4`, Buffer.alloc(700));
    const { storage, puts } = recording(local);
    const playlists = new Map<string, MediaPlaylist>([
      [
        'audio',
        {
          targetDuration: 4,
          mediaSequence: 0,
          mapUri: 'init_0.mp4',
          segments: [{ uri: 'seg_00000.m4s', duration: 4 }],
          ended: true,
        },
      ],
    ]);
    await expect(finalizeHls(storage, prefix, undefined, true, playlists)).rejects.toThrow(
      /audio\/seg_00000\.m4s is not in storage/,
    );
    expect(puts).toEqual([]);
  });
});
