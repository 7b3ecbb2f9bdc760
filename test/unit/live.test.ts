import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import {
  mapUriAt,
  parseMasterPlaylist,
  parseMediaPlaylist,
  writeMediaPlaylist,
  writeVodMediaPlaylist,
  type MediaPlaylist,
} from '../../pipelines/hls-playlist.ts';
import { buildLiveTranscodeArgs, canPassThrough, type LiveTranscodePlan } from '../../pipelines/live-args.ts';
import {
  LiveTimeline,
  droppedSeconds,
  liveMediaPlaylist,
  periodAnchorMs,
  periodName,
  stitchPeriods,
  type LivePeriod,
} from '../../pipelines/live-playlist.ts';
import type { VideoFacts } from '../../pipelines/source-facts.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import type { EventRow } from '../../src/db/events.ts';
import { nextLiveStep, type LiveView } from '../../src/live/live-session.ts';
import { decidePublish } from '../../src/live/publish-policy.ts';
import type { SinkTarget } from '../../src/media/hls-sink.ts';
import { LiveOutput } from '../../src/media/live-output.ts';
import type { Storage } from '../../src/storage/storage.ts';
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
    ladder,
    passthrough: true,
    audio: true,
    segmentSeconds: 1,
    partSeconds: 1 / 3,
    x264Preset: 'veryfast',
    audioBitrateKbps: 128,
  };

  it('copies an H.264 720p30 source as the top rung and forces the lower rungs onto its keyframes', () => {
    expect(canPassThrough(obs720, ladder)).toBe(true);
    const args = buildLiveTranscodeArgs(plan);
    const text = args.join(' ');
    expect(text).toContain('-map 0:v:0 -c:v copy -f mp4');
    expect(args.filter((a) => a === 'source')).toHaveLength(2);
    expect(text).toContain('split=2[s0][s1]');
    // One fragmented MP4 per rendition, each on its own pipe, fragments of at most a part.
    expect(args.filter((a) => a.startsWith('pipe:') && a !== 'pipe:1')).toEqual([
      'pipe:3',
      'pipe:4',
      'pipe:5',
      'pipe:6',
    ]);
    expect(args.filter((a) => a === 'frag_keyframe+empty_moov+default_base_moof')).toHaveLength(4);
    expect(args[args.indexOf('-frag_duration') + 1]).toBe('333333');
    expect(text).toMatch(/-map 0:a:0 -c:a aac .* pipe:6$/);
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

describe('live periods held in memory', () => {
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);
  const playlistOf = (count: number, ended = false): MediaPlaylist => ({
    ...period('x', count, 0).playlist,
    ended,
  });

  it('anchors a period at its top rung first segment: finished minus its duration', () => {
    const finished = new Map([['seg_00000.m4s', t0 + 2_100]]);
    expect(periodAnchorMs(playlistOf(3), (uri) => finished.get(uri))).toBe(t0 + 100);
    expect(periodAnchorMs(playlistOf(3), () => undefined)).toBeUndefined();
    expect(periodAnchorMs(playlistOf(0), () => t0)).toBeUndefined();
  });

  it('names periods in order, apart per worker run', () => {
    expect(periodName(3, '3fa9')).toBe('p0003-3fa9');
  });

  it('stitches anchored periods only, and takes no older playlist that arrives late', () => {
    const timeline = new LiveTimeline(['720p', 'audio']);
    timeline.begin('p0001-aaaa');
    expect(timeline.update('720p', 'p0001-aaaa', playlistOf(2))).toBe(true);
    // Not anchored yet: nothing can be listed (no EXT-X-PROGRAM-DATE-TIME to give it).
    expect(timeline.segments('720p')).toEqual([]);
    timeline.anchor('p0001-aaaa', t0);
    expect(timeline.segments('720p').map((s) => s.uri)).toEqual([
      'p0001-aaaa/seg_00000.m4s',
      'p0001-aaaa/seg_00001.m4s',
    ]);
    expect(timeline.update('720p', 'p0001-aaaa', playlistOf(1))).toBe(false);
    expect(timeline.update('720p', 'p0001-aaaa', playlistOf(2))).toBe(false);
    expect(timeline.update('720p', 'p0001-aaaa', playlistOf(2, true))).toBe(true);
    expect(timeline.update('720p', 'p0009-zzzz', playlistOf(2))).toBe(false);

    timeline.begin('p0002-bbbb');
    timeline.update('720p', 'p0002-bbbb', playlistOf(3));
    timeline.anchor('p0002-bbbb', t0 + 10_000);
    // The audio rendition has nothing yet: it lists nothing, the video both periods.
    expect(timeline.segments('audio')).toEqual([]);
    const all = timeline.segments('720p');
    expect(all).toEqual(
      stitchPeriods([
        { name: 'p0001-aaaa', playlist: playlistOf(2, true), startedAtMs: t0 },
        { name: 'p0002-bbbb', playlist: playlistOf(3), startedAtMs: t0 + 10_000 },
      ]),
    );
    expect(all[2]).toMatchObject({ discontinuity: true, mapUri: 'p0002-bbbb/init_0.mp4' });
    expect(all[2]!.programDateTime).toBe('2026-11-25T10:00:10.000Z');
    // 4 s recorded, then 6 s lost before the second period.
    expect(droppedSeconds(timeline.periodsOf('720p'))).toBe(6);
    expect(timeline.recording('720p')).toMatchObject({ mediaSequence: 0, ended: true });
    expect(timeline.recording('720p').segments).toHaveLength(5);
  });

  it('a timeline rebuilt from the stored records and period playlists publishes the same window', () => {
    const window = { windowSeconds: 4, minSegments: 2, segmentSeconds: 2 };
    const first = new LiveTimeline(['720p']);
    first.begin('p0001-aaaa');
    first.anchor('p0001-aaaa', t0);
    first.update('720p', 'p0001-aaaa', playlistOf(5));
    first.begin('p0002-bbbb'); // begun, never anchored: the worker died before its first segment
    const rebuilt = new LiveTimeline(['720p'], first.records);
    rebuilt.update(
      '720p',
      'p0001-aaaa',
      parseMediaPlaylist(writeMediaPlaylist(first.playlist('720p', 'p0001-aaaa')!)),
    );
    expect(rebuilt.records).toEqual([{ name: 'p0001-aaaa', startedAtMs: t0 }, { name: 'p0002-bbbb' }]);
    expect(writeMediaPlaylist(rebuilt.window('720p', false, window)!)).toBe(
      writeMediaPlaylist(first.window('720p', false, window)!),
    );
    // The next period goes on after them, its number past every name ever given.
    expect(rebuilt.records).toHaveLength(2);
    expect(rebuilt.current).toBe('p0002-bbbb');
  });
});

describe('the live session decides', () => {
  const base: LiveView = {
    over: undefined,
    publisher: 'pub-1',
    period: { publisher: 'pub-1', exited: false },
    presenterStopped: false,
    secondsWithoutPublisher: 0,
    graceSeconds: 20,
    mayStart: true,
  };

  it('what to do from what it sees', () => {
    expect(nextLiveStep(base)).toEqual({ kind: 'wait', encoderGone: false });
    expect(nextLiveStep({ ...base, over: 'deleted' })).toEqual({ kind: 'end', reason: 'deleted' });
    expect(nextLiveStep({ ...base, over: 'organiser-ended' })).toEqual({
      kind: 'end',
      reason: 'organiser-ended',
    });
    expect(nextLiveStep({ ...base, period: { publisher: 'pub-1', exited: true } })).toMatchObject({
      kind: 'stop-period',
    });
    expect(nextLiveStep({ ...base, publisher: 'pub-2' })).toEqual({
      kind: 'stop-period',
      why: 'the encoder reconnected',
    });
    expect(nextLiveStep({ ...base, publisher: undefined })).toEqual({
      kind: 'stop-period',
      why: 'the encoder left',
    });
    expect(nextLiveStep({ ...base, period: { ...base.period!, copyBroken: true } })).toEqual({
      kind: 'stop-period',
      why: "the encoder's keyframes changed",
    });
    expect(nextLiveStep({ ...base, period: undefined })).toEqual({ kind: 'start-period' });
    expect(nextLiveStep({ ...base, period: undefined, mayStart: false })).toMatchObject({ kind: 'wait' });
    const gone = { ...base, period: undefined, publisher: undefined };
    expect(nextLiveStep(gone)).toEqual({ kind: 'wait', encoderGone: true });
    expect(nextLiveStep({ ...gone, presenterStopped: true })).toEqual({
      kind: 'end',
      reason: 'presenter-stopped',
    });
    expect(nextLiveStep({ ...gone, secondsWithoutPublisher: 21 })).toEqual({
      kind: 'end',
      reason: 'encoder-gone',
    });
  });
});

/** Storage in memory, logging every write in order (a fake of the interface for the logic around it). */
class MemoryStorage {
  readonly kind = 'local';
  readonly objects = new Map<string, Buffer>();
  readonly writes: string[] = [];
  putBytes(key: string, body: Buffer | string): Promise<void> {
    this.objects.set(key, Buffer.from(body));
    this.writes.push(key);
    return Promise.resolve();
  }
  readText(key: string): Promise<string | undefined> {
    return Promise.resolve(this.objects.get(key)?.toString('utf8'));
  }
}

/** The part of Redis `publishLivePlaylist` uses; every publish is checked against storage as it happens. */
class CheckingRedis {
  readonly values = new Map<string, string>();
  readonly problems: string[] = [];
  readonly published: string[] = [];
  constructor(
    private readonly storage: MemoryStorage,
    private readonly prefix: string,
  ) {}
  set(key: string, value: string): Promise<'OK'> {
    const file = key.split(':').at(-1)!;
    this.published.push(file);
    if (file === 'master.m3u8') {
      for (const v of parseMasterPlaylist(value).variants)
        if (!this.values.has(key.replace(file, v.uri))) this.problems.push(`master names ${v.uri} first`);
    } else {
      const dir = `${this.prefix}/${file.split('/')[0]}`;
      const playlist = parseMediaPlaylist(value);
      for (const s of playlist.segments)
        for (const uri of [s.uri, ...(s.mapUri ? [s.mapUri] : [])])
          if (!this.storage.objects.has(`${dir}/${uri}`)) this.problems.push(`${file} names ${uri}`);
    }
    this.values.set(key, value);
    return Promise.resolve('OK');
  }
  publish(): Promise<number> {
    return Promise.resolve(0);
  }
  del(...keys: string[]): Promise<number> {
    for (const k of keys) this.values.delete(k);
    return Promise.resolve(keys.length);
  }
}

describe('live output: in-memory playlists published to Redis and storage', () => {
  const ladder = selectLadder(obs720, DEFAULT_LADDER_POLICY);
  const renditions = ['720p', '480p', '360p', 'audio'];
  const assetId = 'as_live';
  const prefix = `assets/${assetId}/live`;
  const avcHead = Buffer.from([0, 0, 0, 0, 0x61, 0x76, 0x63, 0x43, 1, 0x64, 0x00, 0x1f, 0, 0, 0, 0]);
  const window = { windowSeconds: 6, minSegments: 2, segmentSeconds: 2 };
  const t0 = Date.UTC(2026, 10, 25, 10, 0, 0);
  const log = { debug() {}, info() {}, warn() {}, error() {}, child: () => log };

  /** What ffmpeg would PUT: its period playlist listing `count` segments. */
  function ffmpegPlaylist(index: number, count: number, ended = false): string {
    const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0'];
    lines.push(`#EXT-X-MAP:URI="init_${index}.mp4"`);
    for (let i = 0; i < count; i++) lines.push('#EXTINF:2.000000,', `seg_${String(i).padStart(5, '0')}.m4s`);
    if (ended) lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }

  /** Plays the segment sink's part: stores media files, hands over playlists with `isStored`. */
  function fakeSink(storage: MemoryStorage, target: SinkTarget, period: string) {
    const stored = new Set<string>();
    return {
      async store(rendition: string, file: string, finishedAtMs = Date.now()): Promise<void> {
        const path = `${rendition}/${period}/${file}`;
        const isInit = file.endsWith('.mp4');
        storage.objects.set(`${target.prefix}/${path}`, isInit ? avcHead : Buffer.alloc(1000));
        await target.onStored?.({
          path,
          bytes: 1000,
          head: isInit && rendition !== 'audio' ? avcHead : undefined,
          finishedAtMs,
        });
        stored.add(path);
      },
      playlist(rendition: string, text: string): Promise<void> {
        return target.onPlaylist(`${rendition}/${period}/index.m3u8`, text, (p) => stored.has(p));
      },
    };
  }

  async function newOutput(storage: MemoryStorage, redis: CheckingRedis) {
    return LiveOutput.resume({
      storage: storage as unknown as Storage,
      redis: redis as unknown as Redis,
      assetId,
      window,
      log,
    });
  }

  /** `count` segments of a period in every rendition, each playlist sent before its last segment is stored. */
  async function record(sink: ReturnType<typeof fakeSink>, from: number, count: number, startMs: number) {
    for (let i = from; i < from + count; i++) {
      for (const [index, r] of renditions.entries()) {
        if (i === 0) await sink.store(r, `init_${index}.mp4`);
        // ffmpeg sends the playlist naming segment i while segment i is still on its way.
        await sink.playlist(r, ffmpegPlaylist(index, i + 1));
        await sink.store(r, `seg_${String(i).padStart(5, '0')}.m4s`, startMs + (i + 1) * 2000);
        await sink.playlist(r, ffmpegPlaylist(index, i + 1));
      }
    }
  }

  it('publishes only stored segments, in order: state, period playlist, window, then the master', async () => {
    const storage = new MemoryStorage();
    const redis = new CheckingRedis(storage, prefix);
    const output = await newOutput(storage, redis);
    const onAir: string[] = [];
    output.hooks = { onAir: (p) => onAir.push(p) };
    await output.setLayout({ ladder, audio: true });
    const { name, target } = await output.beginPeriod();
    expect(name).toMatch(/^p0001-[0-9a-f]{4}$/);
    expect(target.prefix).toBe(prefix);
    const sink = fakeSink(storage, target, name);
    await record(sink, 0, 4, t0);

    expect(redis.problems).toEqual([]);
    const top = redis.values.get(`onair:live-hls:${assetId}:720p/index.m3u8`)!;
    // A 6 s window of 2 s segments.
    expect(parseMediaPlaylist(top).segments.map((s) => s.uri)).toEqual(
      [1, 2, 3].map((i) => `${name}/seg_0000${i}.m4s`),
    );
    expect(top).toContain('#EXT-X-PROGRAM-DATE-TIME:2026-11-25T10:00:02.000Z');
    expect(top).toContain('#EXT-X-MEDIA-SEQUENCE:1');
    expect(storage.objects.get(`${prefix}/720p/index.m3u8`)!.toString()).toBe(top);
    // The master once every rendition was out, and only then did the period count as on air.
    const masterAt = redis.published.indexOf('master.m3u8');
    expect(masterAt).toBeGreaterThan(0);
    for (const r of renditions) expect(redis.published.indexOf(`${r}/index.m3u8`)).toBeLessThan(masterAt);
    expect(redis.values.get(`onair:live-hls:${assetId}:master.m3u8`)).toContain('avc1.64001f,mp4a.40.2');
    expect(onAir).toEqual([name]);
    // live.json (with the anchor) before any period playlist; each period playlist before its window.
    const w = storage.writes;
    // Written with the layout, with the period, then with its anchor.
    const stateWrites = [...w.entries()].filter(([, k]) => k === `${prefix}/live.json`).map(([i]) => i);
    expect(stateWrites).toHaveLength(3);
    const anchoredAt = stateWrites[2]!;
    expect(anchoredAt).toBeGreaterThan(0);
    expect(w.findIndex((k) => k === `${prefix}/720p/${name}/index.m3u8`)).toBeGreaterThan(anchoredAt);
    for (const r of renditions)
      expect(w.indexOf(`${prefix}/${r}/${name}/index.m3u8`)).toBeLessThan(
        w.indexOf(`${prefix}/${r}/index.m3u8`),
      );
    const state = JSON.parse(storage.objects.get(`${prefix}/live.json`)!.toString()) as {
      periods: { name: string; startedAtMs: number }[];
    };
    expect(state.periods).toEqual([{ name, startedAtMs: t0 }]);
  });

  it('a worker taking over rebuilds from storage, goes on with a new period, and the replay lists both', async () => {
    const storage = new MemoryStorage();
    const redis = new CheckingRedis(storage, prefix);
    const first = await newOutput(storage, redis);
    await first.setLayout({ ladder, audio: true });
    const one = await first.beginPeriod();
    await record(fakeSink(storage, one.target, one.name), 0, 3, t0);
    const before = redis.values.get(`onair:live-hls:${assetId}:720p/index.m3u8`)!;
    // The worker dies here (SIGKILL): nothing more from it. Another one resumes from storage alone.
    const second = await newOutput(storage, redis);
    expect(second.resumed).toBe(true);
    expect(second.layout?.ladder.rungs.map((r) => r.name)).toEqual(['720p', '480p', '360p']);
    expect(redis.values.get(`onair:live-hls:${assetId}:720p/index.m3u8`)).toBe(before);
    const two = await second.beginPeriod();
    expect(two.name).toMatch(/^p0002-/);
    await record(fakeSink(storage, two.target, two.name), 0, 2, t0 + 10_000);
    expect(redis.problems).toEqual([]);
    const after = parseMediaPlaylist(redis.values.get(`onair:live-hls:${assetId}:720p/index.m3u8`)!);
    // The window moved on by the two new segments: media sequence numbers carry on.
    expect(after.mediaSequence).toBe(parseMediaPlaylist(before).mediaSequence + 2);
    expect(after.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    expect(second.droppedSeconds()).toBe(4);

    const recording = (await second.finish())!;
    expect(recording.seconds).toBe(10);
    const replay = recording.playlists.get('720p')!;
    expect(replay.segments.map((s) => s.uri.split('/')[0])).toEqual([
      one.name,
      one.name,
      one.name,
      two.name,
      two.name,
    ]);
    // Sizes the sink reported in this run; the dead worker's are looked up by finalizeHls.
    expect(recording.sizes.get(`720p/${two.name}/seg_00001.m4s`)).toBe(1000);
    expect(recording.sizes.has(`720p/${one.name}/seg_00001.m4s`)).toBe(false);
    // Players see the end.
    expect(redis.values.get(`onair:live-hls:${assetId}:720p/index.m3u8`)).toContain('#EXT-X-ENDLIST');
    expect(redis.problems).toEqual([]);
  });

  it('writes nothing once fenced (the lock went to another worker)', async () => {
    const storage = new MemoryStorage();
    const redis = new CheckingRedis(storage, prefix);
    const output = await newOutput(storage, redis);
    await output.setLayout({ ladder, audio: true });
    const { name, target } = await output.beginPeriod();
    const sink = fakeSink(storage, target, name);
    await record(sink, 0, 2, t0);
    const writes = storage.writes.length;
    const published = redis.published.length;
    output.fence();
    await record(sink, 2, 2, t0);
    expect(storage.writes.length).toBe(writes);
    expect(redis.published.length).toBe(published);
  });
});
