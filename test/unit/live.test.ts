import { describe, expect, it } from 'vitest';
import {
  mapUriAt,
  parseMediaPlaylist,
  writeMediaPlaylist,
  writeVodMediaPlaylist,
} from '../../pipelines/hls-playlist.ts';
import { buildLiveTranscodeArgs, canPassThrough, type LiveTranscodePlan } from '../../pipelines/live-args.ts';
import { liveMediaPlaylist, stitchPeriods, type LivePeriod } from '../../pipelines/live-playlist.ts';
import type { VideoFacts } from '../../pipelines/source-facts.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import type { EventRow } from '../../src/db/events.ts';
import { decidePublish } from '../../src/live/publish-policy.ts';
import { redactStreamKeys } from '../../src/live/rtmp-ingest.ts';
import { signWebhook, verifyWebhook } from '../../src/services/webhooks.ts';

const obs720: VideoFacts = {
  codec: 'h264',
  width: 1280,
  height: 720,
  displayWidth: 1280,
  displayHeight: 720,
  rotation: 0,
  frameRate: { num: 30, den: 1 },
  pixelFormat: 'yuv420p',
};

function period(name: string, count: number, startedAtMs: number, duration = 2): LivePeriod {
  return {
    name,
    startedAtMs,
    playlist: {
      targetDuration: duration,
      mediaSequence: 0,
      mapUri: 'init_0.mp4',
      segments: Array.from({ length: count }, (_, i) => ({
        uri: `seg_${String(i).padStart(5, '0')}.m4s`,
        duration,
      })),
      ended: false,
    },
  };
}

describe('live playlists', () => {
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);
  const all = stitchPeriods([period('p0001', 5, t0), period('p0002', 3, t0 + 20_000)]);

  it('stitches periods with a discontinuity, the period init and wall-clock times', () => {
    expect(all).toHaveLength(8);
    expect(all[0]).toMatchObject({ uri: 'p0001/seg_00000.m4s', mapUri: 'p0001/init_0.mp4' });
    expect(all[0]!.discontinuity).toBeUndefined();
    expect(all[5]).toMatchObject({
      uri: 'p0002/seg_00000.m4s',
      mapUri: 'p0002/init_0.mp4',
      discontinuity: true,
    });
    expect(all[1]!.programDateTime).toBe('2026-11-25T10:00:02.000Z');
    expect(all[5]!.programDateTime).toBe('2026-11-25T10:00:20.000Z');
  });

  it('slides a window, counting media and discontinuity sequence numbers of what left it', () => {
    const live = liveMediaPlaylist(all, false, { windowSeconds: 4, minSegments: 2, segmentSeconds: 2 });
    expect(live.segments.map((s) => s.uri)).toEqual(['p0002/seg_00001.m4s', 'p0002/seg_00002.m4s']);
    expect(live.mediaSequence).toBe(6);
    expect(live.discontinuitySequence).toBe(1);
    const text = writeMediaPlaylist(live);
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:6');
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1');
    expect(text).toContain('#EXT-X-MAP:URI="p0002/init_0.mp4"');
    expect(text).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:22.000Z');
    expect(text).not.toContain('#EXT-X-ENDLIST');
    expect(text).not.toContain('#EXT-X-PLAYLIST-TYPE');
  });

  it('keeps at least minSegments, and a window spanning the break lists the break', () => {
    const live = liveMediaPlaylist(all, false, { windowSeconds: 1, minSegments: 4, segmentSeconds: 2 });
    expect(live.segments).toHaveLength(4);
    expect(live.mediaSequence).toBe(4);
    expect(live.discontinuitySequence).toBeUndefined();
    const text = writeMediaPlaylist(live);
    expect(text.indexOf('#EXT-X-DISCONTINUITY')).toBeLessThan(text.indexOf('p0002/seg_00000.m4s'));
    expect(text.match(/#EXT-X-MAP/g)).toHaveLength(2);
  });

  it('the replay lists everything, survives a parse and rewrite as VOD, and knows each segment init', () => {
    const ended = writeMediaPlaylist(
      liveMediaPlaylist(all, true, { windowSeconds: 4, minSegments: 2, segmentSeconds: 2 }),
    );
    expect(ended).toContain('#EXT-X-ENDLIST');
    const parsed = parseMediaPlaylist(ended);
    expect(parsed.segments).toHaveLength(8);
    expect(parsed.mapUri).toBe('p0001/init_0.mp4');
    expect(mapUriAt(parsed, 3)).toBe('p0001/init_0.mp4');
    expect(mapUriAt(parsed, 6)).toBe('p0002/init_0.mp4');
    const vod = writeVodMediaPlaylist(parsed);
    expect(vod).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vod.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
    expect(parseMediaPlaylist(vod).segments.map((s) => s.uri)).toEqual(all.map((s) => s.uri));
  });
});

describe('live ffmpeg arguments', () => {
  const ladder = selectLadder(obs720, DEFAULT_LADDER_POLICY);
  const plan: LiveTranscodePlan = {
    input: 'rtmp://127.0.0.1:1935/live/k?sign=1-x',
    outputDir: '/out',
    period: 'p0002',
    ladder,
    passthrough: true,
    audio: true,
    segmentSeconds: 1,
    x264Preset: 'veryfast',
    audioBitrateKbps: 128,
  };

  it('copies an H.264 720p30 source as the top rung and forces the lower rungs onto its keyframes', () => {
    expect(canPassThrough(obs720, ladder)).toBe(true);
    const args = buildLiveTranscodeArgs(plan);
    expect(args).toEqual(expect.arrayContaining(['-c:v:0', 'copy', '-map', '0:v:0']));
    expect(args).toEqual(
      expect.arrayContaining(['-force_key_frames:v:1', 'source', '-force_key_frames:v:2', 'source']),
    );
    expect(args).not.toContain('-c:v:3');
    expect(args.join(' ')).toContain('split=2[s0][s1]');
    expect(args[args.indexOf('-var_stream_map') + 1]).toBe(
      'v:0,agroup:aud,name:720p v:1,agroup:aud,name:480p v:2,agroup:aud,name:360p a:0,agroup:aud,name:audio',
    );
    expect(args.at(-1)).toBe('/out/%v/p0002/index.m3u8');
    expect(args[args.indexOf('-hls_list_size') + 1]).toBe('0');
  });

  it('encodes every rung on a fixed GOP of one segment when not copying', () => {
    const args = buildLiveTranscodeArgs({ ...plan, passthrough: false });
    expect(args).not.toContain('copy');
    expect(args).not.toContain('source');
    expect(args.filter((a) => a.startsWith('keyint=30:min-keyint=30'))).toHaveLength(3);
  });

  it('does not copy what players or the ladder cannot take as is', () => {
    expect(canPassThrough({ ...obs720, codec: 'hevc' }, ladder)).toBe(false);
    expect(canPassThrough({ ...obs720, pixelFormat: 'yuv444p' }, ladder)).toBe(false);
    expect(canPassThrough({ ...obs720, rotation: 90 }, ladder)).toBe(false);
    const odd = { ...obs720, width: 1600, height: 900, displayWidth: 1600, displayHeight: 900 };
    expect(canPassThrough(odd, selectLadder(odd, DEFAULT_LADDER_POLICY))).toBe(true);
    expect(canPassThrough(odd, ladder)).toBe(false);
  });
});

describe('publish policy', () => {
  const now = Date.UTC(2026, 10, 25, 12, 0, 0);
  const event = {
    type: 'live',
    stream_key: 'live_x',
    stream_key_disabled: 0,
    ended_at: null,
    live_status: 'idle',
    starts_at: new Date(now + 30 * 60_000).toISOString(),
  } as unknown as EventRow;

  it('accepts within the early window and refuses with reasons a presenter can act on', () => {
    expect(decidePublish(event, now, 60)).toEqual({ ok: true });
    expect(decidePublish(event, now, 10)).toMatchObject({ ok: false, code: 'too_early' });
    expect(decidePublish(undefined, now, 60)).toMatchObject({ ok: false, code: 'unknown_key' });
    expect(decidePublish({ ...event, type: 'on_demand' }, now, 60)).toMatchObject({ code: 'unknown_key' });
    expect(decidePublish({ ...event, stream_key_disabled: 1 }, now, 60)).toMatchObject({ code: 'disabled' });
    expect(decidePublish({ ...event, live_status: 'ended' }, now, 60)).toMatchObject({ code: 'ended' });
  });

  it('keeps stream keys out of log lines', () => {
    expect(redactStreamKeys('rtmp://127.0.0.1:1935/live/live_abcDEF-123?sign=99-ff: I/O error')).toBe(
      'rtmp://127.0.0.1:1935/live/<key>: I/O error',
    );
    expect(redactStreamKeys('RTMP session x push /live/live_abc error')).toBe(
      'RTMP session x push /live/<key> error',
    );
  });
});

describe('webhook signatures', () => {
  it('verify with the secret, within the tolerance, for the exact body only', () => {
    const header = signWebhook('whsec_1', '{"a":1}', 1000);
    expect(header).toMatch(/^t=1000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhook('whsec_1', '{"a":1}', header, 1100)).toBe(true);
    expect(verifyWebhook('whsec_1', '{"a":2}', header, 1100)).toBe(false);
    expect(verifyWebhook('whsec_2', '{"a":1}', header, 1100)).toBe(false);
    expect(verifyWebhook('whsec_1', '{"a":1}', header, 2000)).toBe(false);
  });
});
