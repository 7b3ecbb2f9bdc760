/**
 * A worker thread of the viewer simulator: drives a share of the viewers (pure `ViewerModel`s)
 * over one keep-alive connection each, and reports what they saw for the measurement window.
 * One 10 ms tick wakes viewers whose reload or retry is due; everything else is driven by answers
 * (a playlist answer leads straight to the next segment). Playlists are parsed once per distinct
 * body per thread: thousands of viewers of a rung fetch the very same bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../../pipelines/hls-playlist.ts';
import { LogHistogram } from './histogram.ts';
import { KeepAliveConnection, type Answer, type ConnectionCounters } from './http-connection.ts';
import {
  lastMsn,
  pickVariant,
  prepareLivePlaylist,
  ViewerModel,
  type HlsSettings,
  type LivePlaylist,
  type ViewerRequest,
} from './viewer-model.ts';

export interface ThreadInit {
  readonly index: number;
  readonly host: string;
  readonly port: number;
  /** Source addresses, one per viewer in turn (127.0.0.x: more ephemeral ports). */
  readonly localAddresses: readonly string[];
  readonly masterPath: string;
  /** This thread's viewers: a global index (for the rung mix) and a join time (epoch ms). */
  readonly viewers: readonly { id: number; joinAt: number }[];
  /** Weights over the master's variants, top first. */
  readonly mix: readonly number[];
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly requestTimeoutMs: number;
  readonly settings: HlsSettings;
  /** Nice value for this thread (Linux: per thread), or undefined to leave it. */
  readonly nice: number | undefined;
}

export interface RungReport {
  viewers: number;
  /** 200 answers in the window, by kind. */
  segments: number;
  playlists: number;
  inits: number;
  /** Answers whose X-Cache says the edge asked the origin (MISS, EXPIRED, STALE, BYPASS, REVALIDATED). */
  originSegments: number;
  originPlaylists: number;
  /** Newest media sequence number known at the window's start and end. */
  msnAtStart: number;
  msnAtEnd: number;
}

export interface ThreadReport {
  viewers: number;
  joined: number;
  playing: number;
  /** Failed requests over the whole run, by cause. */
  errors: Record<string, number>;
  viewersStalled: number;
  stalls: number;
  stalledMs: number;
  /** The same, for stalls that started within the window. */
  windowViewersStalled: number;
  windowStalls: number;
  windowStalledMs: number;
  /** Stalls of VISIBLE_STALL_MS or more, over the run: viewers and events. */
  viewersVisiblyStalled: number;
  visibleStalls: number;
  resyncs: number;
  sequenceResets: number;
  /** Playlist reloads in the window, and those that listed nothing new. */
  reloads: number;
  unchangedReloads: number;
  playlistUs: Float64Array;
  segmentUs: Float64Array;
  behindMs: Float64Array;
  /** Body bytes received in the window. */
  bytes: number;
  requests: number;
  rungs: Record<string, RungReport>;
  connects: number;
  silentRetries: number;
  /** This thread's CPU seconds and event loop utilisation (0-1) over the window. */
  cpuSeconds: number;
  elu: number;
  /** Worst lateness of the 10 ms tick in the window: a saturated thread shows it first. */
  maxTickLagMs: number;
}

export type ThreadMessage = { type: 'ready' } | { type: 'report'; report: ThreadReport };
export type MainMessage = { type: 'start'; init: ThreadInit } | { type: 'stop' };

/** What the simulator passes as `workerData` to a thread of this module. */
export const VIEWER_THREAD = 'onair-viewer-thread';

/** Cache statuses of an nginx edge that mean it asked the origin for this answer. */
export const ORIGIN_CACHE_STATUSES = new Set(['MISS', 'EXPIRED', 'STALE', 'BYPASS', 'REVALIDATED']);

/** `720p/index.m3u8` → `720p`: the rendition's folder names its rung. */
export function rungName(uri: string): string {
  const parts = uri.split('?')[0]!.split('/');
  return parts.length > 1 ? parts.at(-2)! : parts[0]!;
}

/** This thread's own CPU seconds (user + system), from /proc/thread-self/stat. */
function threadCpuSeconds(): number {
  const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Track {
  path: string;
  rung: RungStats;
}

interface RungStats extends RungReport {
  name: string;
  /** Newest media sequence number and live edge (media clock) any viewer of this thread has seen. */
  newestMsn: number;
  edgeMs: number;
}

interface Viewer {
  id: number;
  model: ViewerModel;
  conn: KeepAliveConnection;
  tracks: Track[];
  inflight: ViewerRequest | undefined;
  sentAt: number;
  wakeAt: number;
  nextSampleAt: number;
  /** Its counts when the window started. */
  stallsBefore: number;
  stalledMsBefore: number;
  reloadsBefore: number;
  unchangedBefore: number;
  onAnswer: (err: Error | undefined, answer: Answer) => void;
}

function runThread(init: ThreadInit): () => void {
  if (init.nice !== undefined) {
    try {
      os.setPriority(init.nice); // pid 0: this thread
    } catch (err) {
      console.warn(`viewer thread ${init.index}: could not set nice ${init.nice}: ${(err as Error).message}`);
    }
  }
  const clock = () => performance.timeOrigin + performance.now();
  const readBuffer = Buffer.allocUnsafe(256 * 1024);
  const counters: ConnectionCounters = { connects: 0, silentRetries: 0 };
  const masterDir = init.masterPath.slice(0, init.masterPath.lastIndexOf('/') + 1);
  const playlists = new Map<string, LivePlaylist>();
  const masters = new Map<string, { video: { path: string; rung: string }[]; audio: string | undefined }>();
  const rungs = new Map<string, RungStats>();
  const errors: Record<string, number> = {};
  const playlistUs = new LogHistogram();
  const segmentUs = new LogHistogram();
  const behindMs = new LogHistogram();
  let bytes = 0;
  let requests = 0;
  let inWindow = false;
  let windowOver = false;
  let cpuAtStart = 0;
  let eluAtStart = performance.eventLoopUtilization();
  let lastTick = clock();
  let maxTickLagMs = 0;

  const rung = (name: string): RungStats => {
    let r = rungs.get(name);
    if (!r) {
      r = {
        name,
        viewers: 0,
        segments: 0,
        playlists: 0,
        inits: 0,
        originSegments: 0,
        originPlaylists: 0,
        msnAtStart: -1,
        msnAtEnd: -1,
        newestMsn: -1,
        edgeMs: Number.NEGATIVE_INFINITY,
      };
      rungs.set(name, r);
    }
    return r;
  };

  const viewers: Viewer[] = init.viewers.map(({ id, joinAt }) => {
    const localAddress = init.localAddresses[id % init.localAddresses.length];
    const v: Viewer = {
      id,
      model: new ViewerModel(joinAt, init.settings),
      conn: new KeepAliveConnection(
        { host: init.host, port: init.port, ...(localAddress ? { localAddress } : {}) },
        readBuffer,
        counters,
      ),
      tracks: [],
      inflight: undefined,
      sentAt: 0,
      wakeAt: joinAt,
      nextSampleAt: init.windowStart + (id % 1000),
      stallsBefore: 0,
      stalledMsBefore: 0,
      reloadsBefore: 0,
      unchangedBefore: 0,
      onAnswer: () => {},
    };
    v.onAnswer = (err, answer) => answered(v, err, answer);
    return v;
  });
  viewers.sort((a, b) => a.model.joinAt - b.model.joinAt);
  let joined = 0;

  function readMaster(text: string, etag: string | undefined) {
    const key = etag ?? text;
    let master = masters.get(key);
    if (!master) {
      const parsed = parseMasterPlaylist(text);
      master = {
        video: parsed.variants.map((v) => ({ path: masterDir + v.uri, rung: rungName(v.uri) })),
        audio: parsed.audioUris[0] === undefined ? undefined : masterDir + parsed.audioUris[0],
      };
      masters.set(key, master);
    }
    return master;
  }

  function issue(v: Viewer, now: number): void {
    const request = v.model.wants(now);
    if (!request) {
      v.wakeAt = v.model.nextWakeAt();
      return;
    }
    v.inflight = request;
    v.sentAt = now;
    switch (request.kind) {
      case 'master':
        v.conn.request(init.masterPath, () => true, v.onAnswer);
        break;
      case 'playlist': {
        const path = v.tracks[request.track]!.path;
        const query = request.msn === undefined ? '' : `?_HLS_msn=${request.msn}`;
        v.conn.request(path + query, (etag) => !etag || !playlists.has(`${path}|${etag}`), v.onAnswer);
        break;
      }
      case 'init':
        v.conn.request(request.path, undefined, v.onAnswer);
        break;
      case 'segment':
        v.conn.request(request.segment.path, undefined, v.onAnswer);
        break;
    }
  }

  function answered(v: Viewer, err: Error | undefined, answer: Answer): void {
    const now = clock();
    const request = v.inflight!;
    v.inflight = undefined;
    const counted = inWindow && !windowOver;
    if (counted) {
      bytes += answer.bytes;
      requests += 1;
    }
    if (err || answer.status !== 200) {
      const cause = err ? err.message : `HTTP ${answer.status} (${request.kind})`;
      errors[cause] = (errors[cause] ?? 0) + 1;
      v.model.onFailure(request, now);
      issue(v, now);
      return;
    }
    const fromOrigin = answer.cache !== undefined && ORIGIN_CACHE_STATUSES.has(answer.cache);
    switch (request.kind) {
      case 'master': {
        const master = readMaster(answer.body ?? '', answer.etag);
        const choice = master.video[pickVariant(v.id, master.video.length, init.mix)];
        if (!choice) {
          errors['a master playlist without variants'] =
            (errors['a master playlist without variants'] ?? 0) + 1;
          v.model.onFailure(request, now);
          break;
        }
        v.tracks = [{ path: choice.path, rung: rung(choice.rung) }];
        if (master.audio) v.tracks.push({ path: master.audio, rung: rung(rungName(master.audio)) });
        for (const t of v.tracks) t.rung.viewers += 1;
        v.model.onMaster(v.tracks.length, now);
        break;
      }
      case 'playlist': {
        const track = v.tracks[request.track]!;
        const key = answer.etag ? `${track.path}|${answer.etag}` : (answer.body ?? '');
        let playlist = playlists.get(key);
        if (!playlist) {
          try {
            const text = answer.body ?? '';
            playlist = prepareLivePlaylist(parseMediaPlaylist(text), track.path, text);
          } catch (e) {
            const cause = `unreadable playlist: ${(e as Error).message}`;
            errors[cause] = (errors[cause] ?? 0) + 1;
            v.model.onFailure(request, now);
            break;
          }
          if (playlists.size > 512) playlists.clear();
          playlists.set(key, playlist);
          const newest = lastMsn(playlist);
          if (newest > track.rung.newestMsn) track.rung.newestMsn = newest;
          if (playlist.edgeMs > track.rung.edgeMs) track.rung.edgeMs = playlist.edgeMs;
        }
        v.model.onPlaylist(request.track, playlist, v.sentAt, now);
        if (counted) {
          playlistUs.add(answer.ms * 1000);
          track.rung.playlists += 1;
          if (fromOrigin) track.rung.originPlaylists += 1;
        }
        break;
      }
      case 'init':
        v.model.onInit(request.track, request.path);
        if (counted) v.tracks[request.track]!.rung.inits += 1;
        break;
      case 'segment': {
        v.model.onSegment(request.track, request.segment, now);
        if (counted) {
          const r = v.tracks[request.track]!.rung;
          segmentUs.add(answer.ms * 1000);
          r.segments += 1;
          if (fromOrigin) r.originSegments += 1;
        }
        break;
      }
    }
    issue(v, now);
  }

  function report(): ThreadReport {
    let playing = 0;
    let viewersStalled = 0;
    let stalls = 0;
    let stalledMs = 0;
    let resyncs = 0;
    let sequenceResets = 0;
    let windowViewersStalled = 0;
    let windowStalls = 0;
    let windowStalledMs = 0;
    let reloads = 0;
    let unchangedReloads = 0;
    let viewersVisiblyStalled = 0;
    let visibleStalls = 0;
    for (const v of viewers) {
      const c = v.model.counts;
      if (v.model.playing) playing += 1;
      if (c.stalls > 0) viewersStalled += 1;
      stalls += c.stalls;
      stalledMs += c.stalledMs;
      if (c.stalls > v.stallsBefore) windowViewersStalled += 1;
      windowStalls += c.stalls - v.stallsBefore;
      windowStalledMs += c.stalledMs - v.stalledMsBefore;
      if (c.visibleStalls > 0) viewersVisiblyStalled += 1;
      visibleStalls += c.visibleStalls;
      reloads += c.reloads - v.reloadsBefore;
      unchangedReloads += c.unchangedReloads - v.unchangedBefore;
      resyncs += c.resyncs;
      sequenceResets += c.sequenceResets;
    }
    const out: Record<string, RungReport> = {};
    for (const r of rungs.values()) {
      const { name: _name, newestMsn: _n, edgeMs: _e, ...rest } = r;
      out[r.name] = rest;
    }
    return {
      viewers: viewers.length,
      joined,
      playing,
      errors,
      viewersStalled,
      stalls,
      stalledMs,
      windowViewersStalled,
      windowStalls,
      windowStalledMs,
      viewersVisiblyStalled,
      visibleStalls,
      resyncs,
      sequenceResets,
      reloads,
      unchangedReloads,
      playlistUs: playlistUs.counts,
      segmentUs: segmentUs.counts,
      behindMs: behindMs.counts,
      bytes,
      requests,
      rungs: out,
      connects: counters.connects,
      silentRetries: counters.silentRetries,
      cpuSeconds: threadCpuSeconds() - cpuAtStart,
      elu: performance.eventLoopUtilization(eluAtStart).utilization,
      maxTickLagMs,
    };
  }

  const tick = () => {
    const now = clock();
    if (inWindow && !windowOver) maxTickLagMs = Math.max(maxTickLagMs, now - lastTick - 10);
    lastTick = now;
    if (!inWindow && now >= init.windowStart) {
      inWindow = true;
      cpuAtStart = threadCpuSeconds();
      eluAtStart = performance.eventLoopUtilization();
      for (const r of rungs.values()) r.msnAtStart = r.newestMsn;
      for (const v of viewers) {
        v.model.finish(now); // an ongoing stall counts up to here
        v.stallsBefore = v.model.counts.stalls;
        v.stalledMsBefore = v.model.counts.stalledMs;
        v.reloadsBefore = v.model.counts.reloads;
        v.unchangedBefore = v.model.counts.unchangedReloads;
      }
    }
    while (joined < viewers.length && viewers[joined]!.model.joinAt <= now) joined += 1;
    const timeoutAt = performance.now() - init.requestTimeoutMs;
    for (let i = 0; i < joined; i++) {
      const v = viewers[i]!;
      if (v.conn.busy) {
        if (v.conn.sentAt < timeoutAt) v.conn.destroy(new Error('timed out'));
      } else if (now >= v.wakeAt) {
        issue(v, now);
      }
      if (inWindow && !windowOver && now >= v.nextSampleAt) {
        v.nextSampleAt += 1000;
        v.model.advance(now);
        const edge = v.tracks[0]?.rung.edgeMs;
        const behind = edge === undefined ? undefined : v.model.behindEdgeMs(edge);
        if (behind !== undefined) behindMs.add(Math.max(0, behind));
      }
    }
    if (inWindow && !windowOver && now >= init.windowEnd) {
      windowOver = true;
      for (const v of viewers) v.model.finish(now);
      for (const r of rungs.values()) r.msnAtEnd = r.newestMsn;
      parentPort!.postMessage({ type: 'report', report: report() } satisfies ThreadMessage);
    }
  };
  const timer = setInterval(tick, 10);

  return () => {
    clearInterval(timer);
    for (const v of viewers) v.conn.destroy();
  };
}

// Started as a thread by the simulator: wait for the viewers, run them until told to stop.
if (parentPort && workerData === VIEWER_THREAD) {
  const port = parentPort;
  let stop: (() => void) | undefined;
  port.on('message', (message: MainMessage) => {
    if (message.type === 'start') stop = runThread(message.init);
    else {
      stop?.();
      port.close();
    }
  });
  port.postMessage({ type: 'ready' } satisfies ThreadMessage);
}
