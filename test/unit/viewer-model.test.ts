import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import {
  catchUpRate,
  liveSyncPoint,
  ONAIR_LIVE_PLAYER,
  pickVariant,
  prepareLivePlaylist,
  reloadIntervalMs,
  ViewerModel,
  type LivePlaylist,
  type LiveSegment,
  type ViewerRequest,
} from '../bench/viewers/viewer-model.ts';

const T0 = Date.parse('2026-12-01T20:00:00.000Z');

/**
 * A live rendition as a server publishes it: segment k covers [T0 + k·d, T0 + (k+1)·d) on the media
 * clock and is listed `delayMs` after its end; the playlist keeps the last `window` segments.
 * `renumber` adds to every media sequence number (a restarted stream), `mapFrom` starts a new
 * period (new init, discontinuity) at that segment.
 */
interface Rendition {
  durationMs: number;
  delayMs?: number;
  window?: number;
  renumber?: (now: number) => number;
  mapFrom?: number;
  canBlockReload?: boolean;
  /** Segments published stop after this one (a stalled encoder). */
  lastIndex?: number;
}

function playlistAt(r: Rendition, now: number, name = 'v'): LivePlaylist {
  const published = Math.min(
    Math.floor((now - T0 - (r.delayMs ?? 0)) / r.durationMs),
    (r.lastIndex ?? Number.POSITIVE_INFINITY) + 1,
  );
  const first = Math.max(0, published - (r.window ?? 60));
  const shift = r.renumber?.(now) ?? 0;
  const segments: LiveSegment[] = [];
  for (let k = first; k < published; k++) {
    const newPeriod = r.mapFrom !== undefined && k >= r.mapFrom;
    segments.push({
      msn: k + shift,
      path: `/${name}/seg_${k}.m4s`,
      durationMs: r.durationMs,
      startMs: T0 + k * r.durationMs,
      mapPath: newPeriod ? `/${name}/init_b.mp4` : `/${name}/init_a.mp4`,
      discontinuity: newPeriod && k === r.mapFrom,
    });
  }
  const last = segments.at(-1);
  return {
    targetDurationMs: Math.ceil(r.durationMs / 1000) * 1000,
    firstMsn: first + shift,
    segments,
    ended: false,
    canBlockReload: r.canBlockReload ?? false,
    edgeMs: last ? last.startMs + last.durationMs : Number.NEGATIVE_INFINITY,
  };
}

interface Drive {
  renditions: Rendition[];
  /** Time from request to last byte, per request. */
  transferMs?: (request: ViewerRequest, now: number) => number;
  until: number;
  step?: number;
  /** Called every `step` with the time (to sample, or to check state). */
  onStep?: (now: number) => void;
}

/** Runs a viewer against the renditions with one request at a time, as its one connection does. */
function drive(model: ViewerModel, d: Drive): ViewerRequest[] {
  const sent: ViewerRequest[] = [];
  const step = d.step ?? 5;
  let pending: { at: number; answer: () => void } | undefined;
  for (let now = model.joinAt - step; now <= d.until; now += step) {
    if (pending && now >= pending.at) {
      const { answer } = pending;
      pending = undefined;
      answer();
    }
    if (!pending) {
      const request = model.wants(now);
      if (request) {
        sent.push(request);
        let at = now + (d.transferMs?.(request, now) ?? 20);
        // A blocking reload is held until its segment is listed (RFC 8216bis 6.2.5.2).
        if (request.kind === 'playlist' && request.msn !== undefined) {
          const r = d.renditions[request.track]!;
          at = Math.max(at, T0 + (r.delayMs ?? 0) + (request.msn + 1) * r.durationMs + 5);
        }
        const sentAt = now;
        pending = {
          at,
          answer: () => {
            if (request.kind === 'master') model.onMaster(d.renditions.length, at);
            else if (request.kind === 'playlist') {
              model.onPlaylist(
                request.track,
                playlistAt(d.renditions[request.track]!, at, `r${request.track}`),
                sentAt,
                at,
              );
            } else if (request.kind === 'init') model.onInit(request.track, request.path);
            else model.onSegment(request.track, request.segment, at);
          },
        };
      }
    }
    d.onStep?.(now);
  }
  return sent;
}

const VIDEO_2S: Rendition = { durationMs: 2000 };
const AUDIO_1S: Rendition = { durationMs: 1000 };
const JOIN = T0 + 30_300;

describe('live playlists prepared for the viewer model', () => {
  const text = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="p0001-aa/init_0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:00:00.000Z
#EXTINF:2.000000,
p0001-aa/seg_00040.m4s
#EXTINF:2.000000,
p0001-aa/seg_00041.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="p0002-bb/init_0.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:00:10.000Z
#EXTINF:1.500000,
p0002-bb/seg_00000.m4s
#EXTINF:2.000000,
p0002-bb/seg_00001.m4s
`;
  const p = prepareLivePlaylist(parseMediaPlaylist(text), '/s/h/1/e/1/live/720p/index.m3u8', text);

  it('numbers segments from the media sequence and resolves paths against the playlist', () => {
    expect(p.firstMsn).toBe(40);
    expect(p.segments.map((s) => s.msn)).toEqual([40, 41, 42, 43]);
    expect(p.segments[0]!.path).toBe('/s/h/1/e/1/live/720p/p0001-aa/seg_00040.m4s');
    expect(p.targetDurationMs).toBe(2000);
  });

  it('places segments on the PROGRAM-DATE-TIME clock, re-anchored after a discontinuity', () => {
    expect(p.segments.map((s) => s.startMs - T0)).toEqual([0, 2000, 10_000, 11_500]);
    expect(p.edgeMs - T0).toBe(13_500);
    expect(p.segments.map((s) => s.discontinuity)).toEqual([false, false, true, false]);
  });

  it('knows the init segment in effect for each segment', () => {
    expect(p.segments.map((s) => s.mapPath?.split('/').slice(-2).join('/'))).toEqual([
      'p0001-aa/init_0.mp4',
      'p0001-aa/init_0.mp4',
      'p0002-bb/init_0.mp4',
      'p0002-bb/init_0.mp4',
    ]);
  });

  it('places segments before the first stamp back from it, and sees blocking reload support', () => {
    const late = `#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3
#EXT-X-MEDIA-SEQUENCE:7
#EXTINF:2.0,
a.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-12-01T20:00:00.000Z
#EXTINF:2.0,
b.m4s
`;
    const q = prepareLivePlaylist(parseMediaPlaylist(late), '/x/index.m3u8', late);
    expect(q.segments.map((s) => s.startMs - T0)).toEqual([-2000, 0]);
    expect(q.canBlockReload).toBe(true);
    expect(p.canBlockReload).toBe(false);
  });
});

describe('hls.js rules the model follows', () => {
  const five = playlistAt(VIDEO_2S, T0 + 10_000);

  it('mirrors the live settings of onair player', () => {
    const player = fs.readFileSync(path.join(import.meta.dirname, '../../player/player.ts'), 'utf8');
    const setting = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(player)?.[1]);
    expect(setting('liveSyncDurationCount')).toBe(ONAIR_LIVE_PLAYER.liveSyncDurationCount);
    expect(setting('liveMaxLatencyDurationCount')).toBe(ONAIR_LIVE_PLAYER.liveMaxLatencyDurationCount);
    expect(setting('maxLiveSyncPlaybackRate')).toBe(ONAIR_LIVE_PLAYER.maxLiveSyncPlaybackRate);
  });

  it('starts 1.5 target durations from the end, at least one', () => {
    expect(five.edgeMs - T0).toBe(10_000);
    const sync = liveSyncPoint(five, 3000)!;
    expect(sync.segment.msn).toBe(3);
    expect(sync.offsetMs).toBe(1000);
    expect(liveSyncPoint(five, 500)!.segment.msn).toBe(4); // clamped to one target duration
    expect(liveSyncPoint(five, 60_000)!.segment.msn).toBe(0); // shorter playlist: its start
  });

  it('reloads once per target duration, half that when nothing changed', () => {
    expect(reloadIntervalMs(five, true, 3000)).toBe(2000);
    expect(reloadIntervalMs(five, false, 3000)).toBe(1000);
    const short = {
      ...five,
      segments: [...five.segments.slice(0, -1), { ...five.segments.at(-1)!, durationMs: 1500 }],
    };
    expect(reloadIntervalMs(short, true, 3000)).toBe(1500); // near the edge: the last segment's duration
    expect(reloadIntervalMs(short, true, 60_000)).toBe(2000);
  });

  it('catches up by playing up to 10 % faster, only near the target and with buffer ahead', () => {
    const rate = (latency: number, buffer = 3000) => catchUpRate(latency, 3000, 2000, 12_000, buffer, 1.1);
    expect(rate(3000)).toBe(1);
    expect(rate(3040)).toBe(1);
    expect(rate(3100)).toBe(1.05);
    expect(rate(4000)).toBe(1.1);
    expect(rate(4000, 900)).toBe(1); // under 1 s of buffer: no
    expect(rate(8500)).toBe(1); // beyond target + one target duration: DVR, no
  });
});

describe('the rung mix', () => {
  it('is deterministic and follows the weights closely for any number of viewers', () => {
    for (const n of [7, 200, 1000, 10_000]) {
      const counts = [0, 0, 0];
      for (let i = 0; i < n; i++) counts[pickVariant(i, 3, [50, 30, 20])]! += 1;
      expect(Math.abs(counts[0]! - n * 0.5)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(counts[1]! - n * 0.3)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(counts[2]! - n * 0.2)).toBeLessThanOrEqual(1.5);
    }
    expect(pickVariant(42, 3, [50, 30, 20])).toBe(pickVariant(42, 3, [50, 30, 20]));
    expect(pickVariant(5, 1, [50, 30, 20])).toBe(0);
    expect(pickVariant(5, 2, [0, 1])).toBe(1);
  });
});

describe('a simulated viewer', () => {
  it('loads master, playlists, init and segments from the live sync point, then plays', () => {
    const model = new ViewerModel(JOIN);
    const sent = drive(model, { renditions: [VIDEO_2S, AUDIO_1S], until: JOIN + 500 });
    expect(sent.slice(0, 3).map((r) => r.kind)).toEqual(['master', 'playlist', 'playlist']);
    // Video edge at join: 30 s (15 segments); sync point 3 s back = 27 s: video 13, audio 27.
    const fetched = sent.filter((r) => r.kind === 'segment').map((r) => `${r.track}:${r.segment.msn}`);
    expect(fetched.slice(0, 2).sort()).toEqual(['0:13', '1:27']);
    expect(sent.filter((r) => r.kind === 'init')).toHaveLength(2);
    expect(model.playing).toBe(true);
    expect(model.playheadMs! - T0).toBeGreaterThanOrEqual(27_000);
  });

  it('accounts its buffer: media downloaded minus media played', () => {
    const model = new ViewerModel(JOIN);
    let at400: number | undefined;
    drive(model, {
      renditions: [VIDEO_2S],
      until: JOIN + 1000,
      onStep: (now) => {
        if (now !== JOIN + 400) return;
        model.advance(now); // the playhead moves when asked to (at events and samples)
        at400 = model.playheadMs;
      },
    });
    model.advance(JOIN + 1000);
    // Everything listed at join (up to 30 s) arrived; playing at rate 1 since it started.
    expect(model.bufferEndMs()! - T0).toBe(30_000);
    expect(model.playheadMs! - at400!).toBeCloseTo(600, 6);
    expect(model.playbackRate).toBe(1);
    expect(model.counts.stalls).toBe(0);
  });

  it('stalls when the buffer runs dry, for exactly as long as the segment is late', () => {
    // The encoder stops after segment 16 (ends at 34 s) and comes back 5 s later.
    const renditions: Rendition[] = [{ durationMs: 2000, lastIndex: 16 }];
    const model = new ViewerModel(JOIN);
    let stalledAt: number | undefined;
    drive(model, {
      renditions,
      until: JOIN + 15_000,
      step: 5,
      onStep: (now) => {
        if (now === JOIN + 9000) delete renditions[0]!.lastIndex; // back, with everything since
        model.advance(now);
        if (model.stalled && stalledAt === undefined) stalledAt = now;
      },
    });
    expect(model.counts.stalls).toBe(1);
    // The playhead reached 34 s at JOIN + (34 - 27) s, give or take the start-up requests.
    expect(stalledAt! - JOIN).toBeGreaterThan(6900);
    expect(stalledAt! - JOIN).toBeLessThan(7300);
    // Resumed once segment 17 arrived: the reload after JOIN + 9 s (every 1 s while nothing is
    // new), plus its transfer.
    expect(model.counts.stalledMs).toBeGreaterThan(1500);
    expect(model.counts.stalledMs).toBeLessThan(3200);
    expect(model.counts.visibleStalls).toBe(1);
    expect(model.stalled).toBe(false);
  });

  it('fetches every new segment once as the window slides, and a new init after a discontinuity', () => {
    const video: Rendition = { durationMs: 2000, window: 5, mapFrom: 20 };
    const model = new ViewerModel(JOIN);
    const sent = drive(model, { renditions: [video], until: JOIN + 20_000 });
    const msns = sent.filter((r) => r.kind === 'segment').map((r) => r.segment.msn);
    expect(msns).toEqual(Array.from({ length: msns.length }, (_, i) => 13 + i)); // in order, none twice
    expect(msns.at(-1)).toBeGreaterThanOrEqual(23);
    const inits = sent.filter((r) => r.kind === 'init').map((r) => r.path);
    expect(inits).toEqual(['/r0/init_a.mp4', '/r0/init_b.mp4']);
    expect(model.counts.stalls).toBe(0);
  });

  it('follows a stream numbered anew by the clock, without fetching old media again', () => {
    const video: Rendition = { durationMs: 2000, renumber: (now) => (now > JOIN + 8000 ? -10 : 0) };
    const model = new ViewerModel(JOIN);
    const sent = drive(model, { renditions: [video], until: JOIN + 20_000 });
    const starts = sent.filter((r) => r.kind === 'segment').map((r) => r.segment.startMs - T0);
    expect(starts).toEqual(Array.from({ length: starts.length }, (_, i) => 26_000 + 2000 * i));
    expect(model.counts.sequenceResets).toBe(1);
    expect(model.counts.stalls).toBe(0);
  });

  it('measures how far behind the live edge it plays', () => {
    const model = new ViewerModel(JOIN);
    drive(model, { renditions: [VIDEO_2S], until: JOIN + 100 });
    const playhead = model.playheadMs!;
    expect(model.behindEdgeMs(T0 + 30_000)).toBeCloseTo(T0 + 30_000 - playhead, 6);
    expect(new ViewerModel(JOIN).behindEdgeMs(T0 + 30_000)).toBeUndefined(); // not playing yet
  });

  it('reloads about once per target duration, timed from when the previous reload went out', () => {
    const model = new ViewerModel(JOIN);
    const times: number[] = [];
    let previous = 0;
    drive(model, {
      renditions: [VIDEO_2S],
      until: JOIN + 20_000,
      onStep: (now) => {
        if (model.nextWakeAt() !== previous && Number.isFinite(model.nextWakeAt())) {
          previous = model.nextWakeAt();
          times.push(previous);
        }
        void now;
      },
    });
    const gaps = times.slice(2).map((t, i) => t - times[i + 1]!);
    expect(gaps.every((g) => g === 2000 || g === 1000)).toBe(true);
    expect(gaps.filter((g) => g === 2000).length).toBeGreaterThan(gaps.length / 2);
  });

  it('seeks back to the live sync point when further behind than the max latency', () => {
    // Segments take 2.5 s each to arrive: the viewer falls behind, then jumps.
    const model = new ViewerModel(JOIN);
    drive(model, {
      renditions: [VIDEO_2S],
      until: JOIN + 60_000,
      transferMs: (r) => (r.kind === 'segment' ? 2500 : 20),
    });
    expect(model.counts.stalls).toBeGreaterThan(0);
    expect(model.counts.resyncs).toBeGreaterThan(0);
  });

  it('needs every rendition: late audio stalls playback', () => {
    const model = new ViewerModel(JOIN);
    drive(model, {
      renditions: [VIDEO_2S, AUDIO_1S],
      until: JOIN + 20_000,
      transferMs: (r, now) => (r.kind === 'segment' && r.track === 1 && now > JOIN + 5000 ? 1400 : 20),
    });
    expect(model.counts.stalls).toBeGreaterThan(0);
  });

  it('asks for the next segment with a blocking reload when the playlist allows it', () => {
    const model = new ViewerModel(JOIN);
    const sent = drive(model, {
      renditions: [{ durationMs: 2000, canBlockReload: true }],
      until: JOIN + 300,
    });
    const reloads = sent.filter((r) => r.kind === 'playlist');
    expect(reloads[0]!.msn).toBeUndefined();
    expect(reloads[1]?.msn).toBe(15); // listed up to 14: after fetching 13 and 14
    const order = sent.map((r) => r.kind);
    expect(order.indexOf('playlist', 2)).toBeGreaterThan(order.lastIndexOf('segment'));
  });

  it('takes turns between renditions with blocking reloads on its one connection (audio is not starved)', () => {
    const blocking = [
      { ...VIDEO_2S, canBlockReload: true },
      { ...AUDIO_1S, canBlockReload: true },
    ];
    for (const offset of [0, 300, 1100]) {
      const model = new ViewerModel(JOIN + offset);
      const sent = drive(model, {
        renditions: blocking,
        until: JOIN + 60_000,
        step: 10,
        onStep: (now) => model.advance(now),
      });
      model.finish(JOIN + 60_000);
      expect(model.counts).toMatchObject({ stalls: 0, resyncs: 0, failedRequests: 0 });
      // About one audio segment a second, fetched all along (not only the first few).
      const audio = sent.filter((r) => r.kind === 'segment' && r.track === 1);
      expect(audio.length).toBeGreaterThan(50);
      expect(sent.slice(-10).some((r) => r.kind === 'playlist' && r.track === 1)).toBe(true);
    }
  });

  it('does not stall against an ideal server, whatever the moment it joins', () => {
    for (const renditions of [[VIDEO_2S, AUDIO_1S], [{ durationMs: 1000 }, AUDIO_1S], [VIDEO_2S]]) {
      for (const offset of [0, 250, 700, 1100, 1600, 1950]) {
        const model = new ViewerModel(JOIN + offset);
        drive(model, { renditions, until: JOIN + 120_000, step: 10, onStep: (now) => model.advance(now) });
        model.finish(JOIN + 120_000);
        expect(model.counts).toMatchObject({ stalls: 0, resyncs: 0, failedRequests: 0 });
      }
    }
  });

  it('counts a failed request and asks again a second later', () => {
    const model = new ViewerModel(JOIN);
    expect(model.wants(JOIN)).toEqual({ kind: 'master' });
    model.onFailure({ kind: 'master' }, JOIN + 10);
    expect(model.wants(JOIN + 500)).toBeUndefined();
    expect(model.nextWakeAt()).toBe(JOIN + 1010);
    expect(model.wants(JOIN + 1010)).toEqual({ kind: 'master' });
    expect(model.counts.failedRequests).toBe(1);
  });
});
