/**
 * Viewers benchmark (issue 11): N simulated hls.js viewers of one live event, (a) against onair's
 * origin alone and (b) through the nginx edge (infra/nginx/run-edge.sh) in front of it, one after
 * the other against the same live event, fed by the OBS-like test publisher (720p30, 2 s
 * keyframes). Each viewer (test/bench/viewers/viewer-model.ts) joins at a staggered time, picks a
 * rung by a fixed mix, follows the audio rendition too, reloads its playlists about once per target
 * duration, fetches every segment over its own keep-alive connection, and plays: a stall is playback
 * needing a segment that has not fully arrived.
 *
 * Per N and target: joins are spread over the ramp, then after a settling time one window is
 * measured: errors, stalls, playlist and segment time to last byte, how far behind the live edge
 * viewers play, bytes/s, origin requests per segment per rung, and CPU of every process (the
 * simulator's own included, so one can tell whether it or the server is the limit). Afterwards a
 * coarse search for the largest N the origin alone holds without a stall a viewer would see.
 *
 * Reproduce: npm run bench -- viewers
 *   BENCH_VIEWERS=1000,5000,10000 BENCH_TARGETS=origin,edge BENCH_VIEWER_SECONDS=30 (window)
 *   BENCH_VIEWER_RAMP_SECONDS=15 BENCH_VIEWER_MIX=50,30,20 (weights over the rungs, top first)
 *   BENCH_VIEWER_THREADS=auto (one per 3,000 viewers) BENCH_VIEWER_NICE=-5 (the simulator's threads
 *   go first, so its clocks stay honest when the machine is saturated; '' leaves them alone)
 *   BENCH_ORIGIN_SEARCH_STEPS=2 BENCH_HTTP_PROCESSES=<cores> BENCH_X264_PRESET=veryfast
 *   BENCH_KEYFRAME_SECONDS=2 (the publisher's; video segments follow its keyframes)
 *   BENCH_VIEWER_KEEP=1 (keep the work folder: the edge's access log), BENCH_VIEWER_PROFILE=<dir>
 * Needs ffmpeg, and nginx for the edge (apt-get install ffmpeg nginx-light).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { until } from '../helpers/api.ts';
import { startPublisher, type Publisher } from '../helpers/live.ts';
import { startOnair, type OnairProcess } from '../helpers/onair-process.ts';
import { commandExists, edgeMissing, startEdge, type Edge } from './edge.ts';
import { table } from './measure.ts';
import { countOriginRequests, type OriginRequests } from './viewers/edge-log.ts';
import { LogHistogram } from './viewers/histogram.ts';
import { cpuSnapshot, cpuUse, ephemeralPorts, openFileLimit, type CpuUse } from './viewers/processes.ts';
import { ONAIR_LIVE_PLAYER, VISIBLE_STALL_MS } from './viewers/viewer-model.ts';
import {
  VIEWER_THREAD,
  type MainMessage,
  type RungReport,
  type ThreadInit,
  type ThreadMessage,
  type ThreadReport,
} from './viewers/viewer-thread.ts';

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const settings = {
  viewers: list(process.env.BENCH_VIEWERS ?? '1000,5000,10000').map(Number),
  targets: list(process.env.BENCH_TARGETS ?? 'origin,edge') as ('origin' | 'edge')[],
  windowSeconds: Number(process.env.BENCH_VIEWER_SECONDS ?? 30),
  rampSeconds: Number(process.env.BENCH_VIEWER_RAMP_SECONDS ?? 15),
  /** `auto`: one thread per VIEWERS_PER_THREAD viewers, at most one per core. */
  threads: process.env.BENCH_VIEWER_THREADS ?? 'auto',
  nice: process.env.BENCH_VIEWER_NICE ?? '-5',
  mix: list(process.env.BENCH_VIEWER_MIX ?? '50,30,20').map(Number),
  searchSteps: Number(process.env.BENCH_ORIGIN_SEARCH_STEPS ?? 2),
  httpProcesses: process.env.BENCH_HTTP_PROCESSES ?? String(os.cpus().length),
  preset: process.env.BENCH_X264_PRESET ?? 'veryfast',
  /** The publisher's keyframe interval: onair's video segments follow it (2 s: OBS's recommended). */
  keyframeSeconds: Number(process.env.BENCH_KEYFRAME_SECONDS ?? 2),
  /** LIVE_LOW_LATENCY of the server: on (the default: LL-HLS playlists, blocking reloads) or off. */
  lowLatency: process.env.BENCH_LOW_LATENCY ?? 'on',
};
/**
 * One thread (one core at most) carries this many viewers with room to spare. Measured here: about
 * 20 µs of CPU per request, mostly the kernel's loopback TCP (the write that delivers a request runs
 * the receiving side too; JavaScript is a tenth of it), and 0.17 ms per MB received; a viewer makes
 * 3 requests a second (video and audio playlists and segments) and takes 1.9 Mb/s with the default
 * mix: 15-20 % of a core per 1,000 viewers.
 */
const VIEWERS_PER_THREAD = 3000;
/** After the last join: the last joiners start playing and settle at their live position. */
const SETTLE_SECONDS = 6;
/** Viewers bind to 127.0.0.1..16 in turn: ports per source address are what runs out first. */
const SOURCE_ADDRESSES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
const REQUEST_TIMEOUT_MS = 10_000;
/** Search steps are rounded to this many viewers. */
const SEARCH_GRAIN = 250;

type Via = 'origin' | 'edge';

interface Stage {
  onair: OnairProcess;
  publisher: Publisher;
  /** Signed master playlist path, and the origin's and edge's addresses. */
  masterPath: string;
  originPort: number;
  edge: Edge | undefined;
  segmentSeconds: number;
}

interface RunResult {
  n: number;
  via: Via;
  reports: ThreadReport[];
  cpu: CpuUse;
  /** From the edge's access log (edge runs only). */
  origin: Record<string, OriginRequests> | undefined;
  segmentSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function setUp(work: string, wantEdge: boolean): Promise<Stage> {
  const secret = crypto.randomBytes(32).toString('base64url');
  const onair = await startOnair(path.join(work, 'data'), {
    HTTP_PROCESSES: settings.httpProcesses,
    ONAIR_SECRET: secret,
    X264_PRESET: settings.preset,
    LIVE_LOW_LATENCY: settings.lowLatency,
    LOG_LEVEL: 'warn',
  });
  let publisher: Publisher | undefined;
  try {
    const created = await fetch(`${onair.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${onair.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'viewers bench', type: 'live' }),
    });
    const event = (await created.json()) as {
      webinarId: string;
      live: { rtmpUrl: string; streamKey: string };
    };
    publisher = startPublisher(`${event.live.rtmpUrl}/${event.live.streamKey}`, {
      keyframeSeconds: settings.keyframeSeconds,
    });
    const master = await until(
      'the live playback',
      async () => {
        const info = await fetch(`${onair.url}/w/${event.webinarId.replace(/-/g, '')}/info.json`);
        return ((await info.json()) as { playback: { master: string } | null }).playback?.master;
      },
      120_000,
    );
    // A few segments in every rendition before anyone joins.
    const variants = parseMasterPlaylist(await (await fetch(master)).text()).variants;
    const top = new URL(variants[0]!.uri, master).toString();
    const playlist = await until(
      'four live segments',
      async () => {
        const p = parseMediaPlaylist(await (await fetch(top)).text());
        return p.segments.length >= 4 && p;
      },
      60_000,
    );
    const originPort = Number(new URL(onair.url).port);
    let edge: Stage['edge'];
    if (wantEdge) edge = await startEdge(work, originPort, playbackKey(secret), new URL(master).pathname);
    return {
      onair,
      publisher,
      masterPath: new URL(master).pathname,
      originPort,
      edge,
      segmentSeconds: playlist.segments.at(-1)!.duration,
    };
  } catch (err) {
    await publisher?.drop();
    onair.kill('SIGTERM');
    await onair.exited;
    throw err;
  }
}

async function tearDown(stage: Stage): Promise<void> {
  await stage.edge?.stop();
  await stage.publisher.drop();
  stage.onair.kill('SIGTERM');
  await stage.onair.exited;
}

/** A viewer thread: test/bench/viewers/viewer-thread.ts loaded through tsx (workers do not inherit --import). */
function startThread(): Worker {
  const file = pathToFileURL(path.join(import.meta.dirname, 'viewers/viewer-thread.ts')).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(file)}, ${JSON.stringify(import.meta.url)}))`,
    {
      eval: true,
      workerData: VIEWER_THREAD,
      // BENCH_VIEWER_PROFILE=<dir>: a V8 CPU profile of each thread, for whoever tunes the simulator.
      ...(process.env.BENCH_VIEWER_PROFILE
        ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_VIEWER_PROFILE}`] }
        : {}),
    },
  );
}

function nextMessage(worker: Worker): Promise<ThreadMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: ThreadMessage) => {
      worker.off('error', onError);
      resolve(m);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      reject(err);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}

async function runViewers(stage: Stage, n: number, via: Via): Promise<RunResult> {
  const port = via === 'edge' ? stage.edge!.port : stage.originPort;
  const threads = Array.from({ length: threadCount(n) }, startThread);
  let stopped: Promise<unknown> | undefined;
  const stopThreads = () =>
    (stopped ??= Promise.all(
      threads.map(async (worker) => {
        const exited = new Promise((r) => worker.once('exit', r));
        worker.postMessage({ type: 'stop' } satisfies MainMessage);
        const timer = setTimeout(() => void worker.terminate(), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    ));
  try {
    for (const message of await Promise.all(threads.map(nextMessage))) {
      if (message.type !== 'ready') throw new Error('a viewer thread did not start');
    }
    const logOffset = stage.edge && via === 'edge' ? fileSize(stage.edge.log) : 0;
    const t0 = Date.now() + 500;
    const windowStart = t0 + (settings.rampSeconds + SETTLE_SECONDS) * 1000;
    const windowEnd = windowStart + settings.windowSeconds * 1000;
    const reports = threads.map((worker, k) => {
      const init: ThreadInit = {
        index: k,
        host: '127.0.0.1',
        port,
        localAddresses: SOURCE_ADDRESSES,
        masterPath: stage.masterPath,
        viewers: Array.from({ length: n }, (_, id) => id)
          .filter((id) => id % threads.length === k)
          .map((id) => ({ id, joinAt: t0 + (id / n) * settings.rampSeconds * 1000 })),
        mix: settings.mix,
        windowStart,
        windowEnd,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        settings: ONAIR_LIVE_PLAYER,
        nice: settings.nice === '' ? undefined : Number(settings.nice),
      };
      const report = nextMessage(worker);
      worker.postMessage({ type: 'start', init } satisfies MainMessage);
      return report;
    });
    await sleep(windowStart - Date.now());
    const before = cpuSnapshot();
    await sleep(windowEnd - Date.now());
    const after = cpuSnapshot();
    const cpu = cpuUse(before, after, {
      onair: stage.onair.pid,
      edge: stage.edge?.child.pid,
      publisher: stage.publisher.child.pid,
      simulator: process.pid,
    });
    const done = await Promise.all(reports);
    await stopThreads(); // before reading the access log: a million lines at 10,000 viewers
    let origin: RunResult['origin'];
    if (via === 'edge' && fs.existsSync(stage.edge!.log)) {
      await sleep(1500); // nginx flushes its access log every second
      origin = (await countOriginRequests(stage.edge!.log, logOffset, windowStart, windowEnd)).rungs;
    }
    return {
      n,
      via,
      reports: done.map((m) => {
        if (m.type !== 'report') throw new Error('a viewer thread sent no report');
        return m.report;
      }),
      cpu,
      origin,
      segmentSeconds: stage.segmentSeconds,
    };
  } finally {
    await stopThreads();
  }
}

function threadsText(): string {
  const nice = settings.nice === '' ? '' : ` at nice ${settings.nice}`;
  return settings.threads === 'auto'
    ? `auto (one per ${VIEWERS_PER_THREAD.toLocaleString('en')} viewers)${nice}`
    : `${settings.threads}${nice}`;
}

function threadCount(n: number): number {
  const wanted =
    settings.threads === 'auto'
      ? Math.min(os.cpus().length, Math.ceil(n / VIEWERS_PER_THREAD))
      : Number(settings.threads);
  return Math.max(1, Math.min(wanted, n));
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

interface Summary {
  n: number;
  via: Via;
  joined: number;
  playing: number;
  errors: number;
  errorCauses: Record<string, number>;
  viewersStalled: number;
  stalls: number;
  stalledSeconds: number;
  window: { viewersStalled: number; stalls: number; stalledSeconds: number };
  /** Stalls of VISIBLE_STALL_MS or more over the run: viewers, events. */
  visible: { viewersStalled: number; stalls: number };
  resyncs: number;
  /** Share of playlist reloads in the window that listed nothing new. */
  unchangedReloads: number;
  playlistMs: [number, number];
  segmentMs: [number, number];
  behindS: [number, number];
  /** p99 − p50 of behind-the-edge, in segments. */
  spreadSegments: number;
  gbps: number;
  rungs: (RungReport & { name: string; produced: number; headerSegments: number })[];
  /** Highest origin segment requests per produced segment over the rungs. */
  originPerSegment: number;
  simCpu: number;
  simPer1000: number;
  elu: number;
  maxTickLagMs: number;
  /** CPU of the busiest simulator thread, % of one core. */
  busiestThread: number;
  threads: number;
  cpu: CpuUse;
  limit: string;
  connects: number;
}

function summarise(result: RunResult): Summary {
  const { reports } = result;
  const merge = (pick: (r: ThreadReport) => Float64Array) => {
    const h = new LogHistogram();
    for (const r of reports) h.merge(new LogHistogram(pick(r)));
    return h;
  };
  const sum = (pick: (r: ThreadReport) => number) => reports.reduce((t, r) => t + pick(r), 0);
  const playlistUs = merge((r) => r.playlistUs);
  const segmentUs = merge((r) => r.segmentUs);
  const behind = merge((r) => r.behindMs);
  const errorCauses: Record<string, number> = {};
  for (const r of reports) {
    for (const [cause, count] of Object.entries(r.errors))
      errorCauses[cause] = (errorCauses[cause] ?? 0) + count;
  }
  const rungNames = [...new Set(reports.flatMap((r) => Object.keys(r.rungs)))];
  const rungs = rungNames.map((name) => {
    const of = reports.map((r) => r.rungs[name]).filter((r): r is RungReport => r !== undefined);
    const msnAtStart = Math.max(...of.map((r) => r.msnAtStart));
    const msnAtEnd = Math.max(...of.map((r) => r.msnAtEnd));
    const total = (pick: (r: RungReport) => number) => of.reduce((t, r) => t + pick(r), 0);
    // Behind the edge the access log says what reached the origin (without one, the X-Cache
    // header viewers got says it too, minus background refreshes); alone, every request did.
    const fromLog = result.origin
      ? (result.origin[name] ?? { segments: 0, playlists: 0 })
      : { segments: total((r) => r.originSegments), playlists: total((r) => r.originPlaylists) };
    return {
      name,
      viewers: total((r) => r.viewers),
      segments: total((r) => r.segments),
      playlists: total((r) => r.playlists),
      inits: total((r) => r.inits),
      msnAtStart,
      msnAtEnd,
      produced: Math.max(0, msnAtEnd - msnAtStart),
      originSegments: result.via === 'edge' ? fromLog.segments : total((r) => r.segments),
      originPlaylists: result.via === 'edge' ? fromLog.playlists : total((r) => r.playlists),
      headerSegments: total((r) => r.originSegments),
    };
  });
  const originPerSegment = Math.max(
    0,
    ...rungs.map((r) => (r.produced > 0 ? r.originSegments / r.produced : 0)),
  );
  const simCpu = result.cpu.roles.simulator ?? 0;
  const elu = Math.max(...reports.map((r) => r.elu));
  const maxTickLagMs = Math.max(...reports.map((r) => r.maxTickLagMs));
  // A thread cannot use more than one core: one that does is what holds the viewers back. (Its
  // event loop utilisation alone would also count time it waited for a core others were using.)
  const busiestThread = Math.max(...reports.map((r) => (r.cpuSeconds / result.cpu.seconds) * 100));
  const cores = os.cpus().length;
  const limit = busiestThread > 85 ? 'simulator' : result.cpu.machine > 95 * cores ? 'machine CPU' : '-';
  return {
    n: result.n,
    via: result.via,
    joined: sum((r) => r.joined),
    playing: sum((r) => r.playing),
    errors: Object.values(errorCauses).reduce((a, b) => a + b, 0),
    errorCauses,
    viewersStalled: sum((r) => r.viewersStalled),
    stalls: sum((r) => r.stalls),
    stalledSeconds: sum((r) => r.stalledMs) / 1000,
    visible: { viewersStalled: sum((r) => r.viewersVisiblyStalled), stalls: sum((r) => r.visibleStalls) },
    window: {
      viewersStalled: sum((r) => r.windowViewersStalled),
      stalls: sum((r) => r.windowStalls),
      stalledSeconds: sum((r) => r.windowStalledMs) / 1000,
    },
    resyncs: sum((r) => r.resyncs),
    unchangedReloads:
      sum((r) => r.unchangedReloads) /
      Math.max(
        1,
        sum((r) => r.reloads),
      ),
    playlistMs: [playlistUs.percentile(50) / 1000, playlistUs.percentile(99) / 1000],
    segmentMs: [segmentUs.percentile(50) / 1000, segmentUs.percentile(99) / 1000],
    behindS: [behind.percentile(50) / 1000, behind.percentile(99) / 1000],
    spreadSegments: (behind.percentile(99) - behind.percentile(50)) / 1000 / result.segmentSeconds,
    gbps: (sum((r) => r.bytes) * 8) / settings.windowSeconds / 1e9,
    rungs,
    originPerSegment,
    simCpu,
    simPer1000: simCpu / (result.n / 1000),
    elu,
    maxTickLagMs,
    busiestThread,
    threads: reports.length,
    cpu: result.cpu,
    limit,
    connects: sum((r) => r.connects),
  };
}

const f = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function mainRow(s: Summary): Record<string, string | number> {
  return {
    N: s.n,
    via: s.via,
    threads: s.threads,
    playing: `${s.playing}/${s.joined}`,
    errors: s.errors,
    'stalls v/e/s': `${s.viewersStalled}/${s.stalls}/${f(s.stalledSeconds, 1)}`,
    'in window': `${s.window.viewersStalled}/${s.window.stalls}/${f(s.window.stalledSeconds, 1)}`,
    [`>=${VISIBLE_STALL_MS}ms v/e`]: `${s.visible.viewersStalled}/${s.visible.stalls}`,
    'playlist p50/p99 ms': `${f(s.playlistMs[0], 1)}/${f(s.playlistMs[1], 1)}`,
    'reloads w/o news %': f(s.unchangedReloads * 100),
    'segment p50/p99 ms': `${f(s.segmentMs[0], 1)}/${f(s.segmentMs[1], 1)}`,
    'behind edge p50/p99 s': `${f(s.behindS[0], 2)}/${f(s.behindS[1], 2)}`,
    'p99-p50 seg': f(s.spreadSegments, 2),
    'Gb/s': f(s.gbps, 2),
    'origin seg req/seg/rung': f(s.originPerSegment, s.via === 'edge' ? 2 : 0),
    'sim CPU %': f(s.simCpu),
    'sim %/1k': f(s.simPer1000, 1),
    'sim thread max %': f(s.busiestThread),
    'sim lag ms': f(s.maxTickLagMs),
    'machine CPU %': `${f(s.cpu.machine)}/${os.cpus().length * 100}`,
    limit: s.limit,
  };
}

function rungRows(s: Summary): Record<string, string | number>[] {
  return s.rungs.map((r) => ({
    N: s.n,
    via: s.via,
    rung: r.name,
    viewers: r.viewers,
    'segments made': r.produced,
    'viewer seg req': r.segments,
    'origin seg req/seg': r.produced > 0 ? f(r.originSegments / r.produced, 2) : '-',
    'origin playlist req/seg': r.produced > 0 ? f(r.originPlaylists / r.produced, 2) : '-',
    'X-Cache from origin (seg)': s.via === 'edge' ? r.headerSegments : '-',
  }));
}

function cpuRow(s: Summary): Record<string, string | number> {
  const r = s.cpu.roles;
  return {
    N: s.n,
    via: s.via,
    simulator: f(r.simulator ?? 0),
    'onair primary': f(r.onair ?? 0),
    http: s.cpu.http.map((x) => f(x)).join('+') || '-',
    workers: f(r.workers ?? 0),
    ingest: f(r.ingest ?? 0),
    'ffmpeg (ladder)': s.cpu.ffmpeg.map((x) => f(x)).join('+') || '-',
    publisher: f(r.publisher ?? 0),
    redis: f(r.redis ?? 0),
    nginx: s.via === 'edge' ? f(r.nginx ?? 0) : '-',
    // Everything else on the machine (kernel threads, other users): noise in the figures above.
    other: f(s.cpu.machine - Object.values(r).reduce((a, b) => a + b, 0)),
    machine: `${f(s.cpu.machine)}/${os.cpus().length * 100}`,
  };
}

/**
 * Holds: every viewer playing, no error, and no stall of VISIBLE_STALL_MS or more. Shorter ones happen with
 * 50 viewers on an idle server: once a viewer has stalled, hls.js never slows down to rebuild its
 * buffer, so each next segment arrives just as the buffer runs out, a few ms early or late.
 */
const holds = (s: Summary) => s.playing === s.n && s.errors === 0 && s.visible.stalls === 0;

function checkLimits(): string[] {
  const problems: string[] = [];
  const largest = Math.max(...settings.viewers);
  const files = openFileLimit();
  if (largest + 512 > files) {
    problems.push(
      `${largest} viewers need about ${largest + 512} open files in this process, but its limit is ${files}: ` +
        `raise it (ulimit -n ${Math.max(65536, largest * 2)}) or lower BENCH_VIEWERS`,
    );
  }
  const ports = ephemeralPorts();
  if (largest / SOURCE_ADDRESSES.length > ports / 2) {
    problems.push(`only ${ports} ephemeral ports per source address (net.ipv4.ip_local_port_range)`);
  }
  return problems;
}

export async function run(): Promise<void> {
  if (!commandExists('ffmpeg')) {
    console.log('skipped: ffmpeg is not installed (apt-get install ffmpeg)');
    return;
  }
  const problems = checkLimits();
  if (problems.length > 0) throw new Error(problems.join('; '));
  let targets = settings.targets.filter((t) => t === 'origin' || t === 'edge');
  if (targets.includes('edge')) {
    const missing = edgeMissing();
    if (missing) {
      console.log(`edge runs skipped: ${missing}`);
      targets = targets.filter((t) => t !== 'edge');
    }
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-viewers-bench-'));
  const summaries: Summary[] = [];
  let stage: Stage | undefined;
  try {
    stage = await setUp(work, targets.includes('edge'));
    console.log(
      `live event up: ${stage.segmentSeconds} s segments; onair HTTP_PROCESSES=${settings.httpProcesses}, ` +
        `ladder x264 ${settings.preset}; simulator threads ${threadsText()}, one connection per viewer`,
    );
    const once = async (n: number, via: Via) => {
      const s = summarise(await runViewers(stage!, n, via));
      summaries.push(s);
      const row = mainRow(s);
      console.log(
        `  ${via} N=${n}: ${Object.entries(row)
          .slice(2)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
      if (s.errors > 0) console.log(`    errors: ${JSON.stringify(s.errorCauses)}`);
      await sleep(2000); // closed sockets settle before the next run
      return s;
    };
    for (const n of settings.viewers) for (const via of targets) await once(n, via);

    // The largest N the origin alone holds: bisect between the largest that held and the smallest that did not.
    if (targets.includes('origin')) {
      for (let step = 0; step < settings.searchSteps; step++) {
        const alone = summaries.filter((s) => s.via === 'origin');
        const held = alone.filter(holds).map((s) => s.n);
        const failed = alone.filter((s) => !holds(s)).map((s) => s.n);
        const lo = Math.max(0, ...held);
        const hi = Math.min(...failed.filter((n) => n > lo));
        if (!Number.isFinite(hi)) break;
        const mid = Math.round((lo + hi) / 2 / SEARCH_GRAIN) * SEARCH_GRAIN;
        if (mid <= lo || mid >= hi) break;
        await once(mid, 'origin');
      }
    }
  } finally {
    if (stage) await tearDown(stage);
    // BENCH_VIEWER_KEEP=1 keeps the edge's access log and config for a look afterwards.
    if (process.env.BENCH_VIEWER_KEEP) console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }

  const cores = os.cpus().length;
  console.log(
    `\nViewers of one live event (publisher 720p30 ultrafast, ${settings.keyframeSeconds} s keyframes; ` +
      `ladder x264 ${settings.preset}), ` +
      `${cores} cores (${os.cpus()[0]?.model ?? 'unknown'}), onair HTTP_PROCESSES=${settings.httpProcesses}; ` +
      `joins over ${settings.rampSeconds} s, ${SETTLE_SECONDS} s to settle, then a ${settings.windowSeconds} s window; ` +
      `simulator threads ${threadsText()}, one keep-alive connection per viewer; rung mix ${settings.mix.join('/')} ` +
      `(top first) plus the audio rendition.\n` +
      "Errors and stalls count from each viewer's join to the window's end (stalls v/e/s: viewers who stalled / " +
      'stall events / seconds stalled; "in window": stalls that began in the window); everything else is the window.\n',
  );
  console.log(table(summaries.map(mainRow)));
  console.log('\nPer rung: origin requests per segment made (behind the edge: from its access log)\n');
  console.log(table(summaries.flatMap(rungRows)));
  console.log('\nCPU, % of one core, over the window\n');
  console.log(table(summaries.map(cpuRow)));

  console.log('\nTargets');
  for (const s of summaries.filter((x) => x.via === 'edge')) {
    const checks = [
      [`errors ${s.errors}`, s.errors === 0],
      [
        `stalls ${s.stalls} (${s.visible.stalls} of ${VISIBLE_STALL_MS} ms or more)`,
        s.stalls === 0 && s.playing === s.n,
      ],
      [`p99-p50 behind edge ${f(s.spreadSegments, 2)} segment(s) <= 1`, s.spreadSegments <= 1],
      [
        `origin segment requests per segment per rung ${f(s.originPerSegment, 2)} ~ 1`,
        s.originPerSegment >= 0.8 && s.originPerSegment <= 1.2,
      ],
    ] as const;
    const met = checks.every(([, ok]) => ok);
    console.log(
      `  edge, N=${s.n}${s.n >= 10_000 ? ' (the target run)' : ''}: ` +
        `${checks.map(([text, ok]) => `${text} ${ok ? 'ok' : 'MISSED'}`).join('; ')} -> ${met ? 'met' : 'not met'}`,
    );
  }
  if (!summaries.some((s) => s.via === 'edge' && s.n >= 10_000))
    console.log('  (no edge run at 10,000 viewers)');
  const alone = summaries.filter((s) => s.via === 'origin');
  if (alone.length > 0) {
    const held = alone.filter(holds).map((s) => s.n);
    const failed = alone.filter((s) => !holds(s)).map((s) => s.n);
    const best = Math.max(0, ...held);
    const worse = Math.min(...failed.filter((n) => n > best));
    console.log(
      `  origin alone holds ${best > 0 ? best : 'none of the tested N'} viewers with 0 stalls of ${VISIBLE_STALL_MS} ms or more` +
        `${Number.isFinite(worse) ? ` (stalls at ${worse})` : ' (the largest N tested)'}`,
    );
  }
  for (const s of summaries) {
    if (s.limit === 'simulator') {
      console.log(
        `  ${s.via} N=${s.n}: the SIMULATOR is the limit (a thread at ${f(s.busiestThread)} % of a core, ` +
          `event loop ${f(s.elu * 100)} % busy, tick late by up to ${f(s.maxTickLagMs)} ms): more BENCH_VIEWER_THREADS`,
      );
    }
  }
  const per1000 = summaries.map((s) => s.simPer1000).filter(Number.isFinite);
  console.log(
    `  simulator: ${f(Math.min(...per1000), 1)}-${f(Math.max(...per1000), 1)} % of one core per 1,000 viewers ` +
      `(max thread ELU ${f(Math.max(...summaries.map((s) => s.elu)), 2)})`,
  );
  console.log(
    `\nreproduce: BENCH_VIEWERS=${settings.viewers.join(',')} BENCH_TARGETS=${settings.targets.join(',')} ` +
      `BENCH_VIEWER_SECONDS=${settings.windowSeconds} BENCH_VIEWER_RAMP_SECONDS=${settings.rampSeconds} ` +
      `BENCH_VIEWER_THREADS=${settings.threads} BENCH_VIEWER_NICE=${settings.nice} BENCH_VIEWER_MIX=${settings.mix.join(',')} ` +
      `BENCH_ORIGIN_SEARCH_STEPS=${settings.searchSteps} BENCH_HTTP_PROCESSES=${settings.httpProcesses} ` +
      `BENCH_X264_PRESET=${settings.preset} BENCH_KEYFRAME_SECONDS=${settings.keyframeSeconds} ` +
      `BENCH_LOW_LATENCY=${settings.lowLatency} npm run bench -- viewers`,
  );
}
