/**
 * Live soak (not in CI; run only when named): one live event for BENCH_SOAK_MINUTES, fed by the
 * OBS-like test publisher (720p30, 2 s keyframes: with the default 1 s segments every rung is
 * encoded; the clock barcode of live-latency.ts), played by one Chromium watch page (hls.js;
 * Low-Latency HLS, the default). onair runs as its own process
 * (`npm start`'s entry point, its embedded redis-server, forked workers and ffmpeg), so what it
 * holds is its own: every BENCH_SOAK_SAMPLE_SECONDS the resident memory (VmRSS) of each process of
 * its tree is sampled and printed. Glass-to-glass latency (frame sent -> frame shown, read in the
 * page as live-latency.ts does) is measured for 20 s after the first minute and again at the end.
 *
 * At the end, per kind of process: RSS at BENCH_SOAK_REFERENCE_MINUTES (10; or the first sample of
 * a shorter soak), at the end, the growth in MB (and how much of it is anonymous memory: heap, not
 * files) and in MB per minute, against the 50 MB goal; and latency at the start and the end. Memory that
 * keeps growing at a steady rate over hours is a leak; latency that creeps up is drift.
 *
 * Reproduce: npm run bench -- live-soak   (BENCH_SOAK_MINUTES=120 BENCH_SOAK_SAMPLE_SECONDS=60
 * BENCH_SOAK_REFERENCE_MINUTES=10)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from '../helpers/browser.ts';
import { startPublisher } from '../helpers/live.ts';
import { startOnair } from '../helpers/onair-process.ts';
import {
  createLiveEvent,
  liveHealth,
  measureShown,
  openWatchPage,
  p50p95,
  playbackOf,
  playerEvents,
  watchPath,
  type Shown,
} from './live-latency.ts';
import { table } from './measure.ts';

const settings = {
  minutes: Number(process.env.BENCH_SOAK_MINUTES ?? 120),
  sampleSeconds: Number(process.env.BENCH_SOAK_SAMPLE_SECONDS ?? 60),
  /** Memory growth counts from this sample on: start-up (caches filling, JIT) is over by then. */
  referenceMinutes: Number(process.env.BENCH_SOAK_REFERENCE_MINUTES ?? 10),
};
/** The issue's goal: every process within this much of its size after the reference sample. */
const GROWTH_GOAL_MB = 50;
/** Each latency measurement. */
const LATENCY_SECONDS = 20;
/** The first latency measurement starts this long into the soak (the player has settled by then). */
const FIRST_LATENCY_AT_S = 60;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

interface Proc {
  pid: number;
  kind: string;
  rssKb: number;
  /** The anonymous part of VmRSS (heap, stacks): what a leak grows; the rest is files and shared memory. */
  anonKb: number;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** onair's processes by what they run (the primary is `root`). */
function kindOf(pid: number, root: number): string {
  if (pid === root) return 'onair';
  const comm = readProc(pid, 'comm')?.trim() ?? '';
  if (comm === 'ffmpeg') return 'ffmpeg';
  if (comm === 'redis-server') return 'redis';
  // The embedded redis-server's watchdog (src/services/embedded-redis.ts).
  if (comm === 'sh') return 'redis watchdog (sh)';
  const cmd = readProc(pid, 'cmdline')?.split('\0').join(' ') ?? '';
  if (cmd.includes('http-worker')) return 'http';
  if (cmd.includes('workers/main')) return 'workers';
  if (cmd.includes('ingest-main')) return 'ingest';
  // tsx's esbuild service: how this checkout runs TypeScript, not part of an installed onair.
  if (comm === 'esbuild') return 'esbuild (tsx)';
  return comm || 'other';
}

/** `root` and all its descendants, with their resident memory. */
function processTree(root: number): Proc[] {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProc(Number(name), 'stat');
    // After "pid (comm) ": state, then the parent's pid.
    if (stat) parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === pids[i]) pids.push(pid);
  }
  return pids.flatMap((pid) => {
    const status = readProc(pid, 'status') ?? '';
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
    const anon = /^RssAnon:\s+(\d+) kB/m.exec(status);
    return rss
      ? [{ pid, kind: kindOf(pid, root), rssKb: Number(rss[1]), anonKb: Number(anon?.[1] ?? 0) }]
      : [];
  });
}

interface Sample {
  atS: number;
  procs: Proc[];
}

const mb = (kb: number) => kb / 1024;
const clock = (s: number) => {
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
};

interface KindMemory {
  mb: number;
  anonMb: number;
  count: number;
}

/** Resident MB (and its anonymous part) per kind of process in a sample, and how many of each kind. */
function byKind(sample: Sample): Map<string, KindMemory> {
  const kinds = new Map<string, KindMemory>();
  for (const p of sample.procs) {
    const k = kinds.get(p.kind) ?? { mb: 0, anonMb: 0, count: 0 };
    kinds.set(p.kind, { mb: k.mb + mb(p.rssKb), anonMb: k.anonMb + mb(p.anonKb), count: k.count + 1 });
  }
  return kinds;
}

function summaryRows(reference: Sample, last: Sample): Record<string, string>[] {
  const from = byKind(reference);
  const to = byKind(last);
  const minutes = (last.atS - reference.atS) / 60;
  const row = (kind: string, a: KindMemory, b: KindMemory) => ({
    process: kind,
    count: a.count === b.count ? String(b.count) : `${a.count} -> ${b.count}`,
    [`RSS at ${clock(reference.atS)} MB`]: a.mb.toFixed(1),
    [`RSS at ${clock(last.atS)} MB`]: b.mb.toFixed(1),
    'growth MB': (b.mb - a.mb).toFixed(1),
    'of it anon MB': (b.anonMb - a.anonMb).toFixed(1),
    'MB/min': minutes > 0 ? ((b.mb - a.mb) / minutes).toFixed(3) : '-',
    [`within ${GROWTH_GOAL_MB} MB`]: b.mb - a.mb <= GROWTH_GOAL_MB ? 'yes' : 'NO',
  });
  const none = { mb: 0, anonMb: 0, count: 0 };
  const kinds = [...new Set([...from.keys(), ...to.keys()])].sort();
  const total = (m: Map<string, KindMemory>) =>
    [...m.values()].reduce(
      (t, k) => ({ mb: t.mb + k.mb, anonMb: t.anonMb + k.anonMb, count: t.count + k.count }),
      none,
    );
  return [
    ...kinds.map((k) => row(k, from.get(k) ?? none, to.get(k) ?? none)),
    row('all', total(from), total(to)),
  ];
}

export async function run(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-soak-'));
  const undo: (() => unknown)[] = [() => fs.rmSync(work, { recursive: true, force: true })];
  try {
    const onair = await startOnair(path.join(work, 'data'), { X264_PRESET: 'veryfast', LOG_LEVEL: 'warn' });
    undo.push(async () => {
      onair.kill('SIGTERM');
      await onair.exited;
    });
    const event = await createLiveEvent(onair, 'soak');
    const publisher = startPublisher(`${event.live.rtmpUrl}/${event.live.streamKey}`, {
      clockBarcode: true,
      keyframeSeconds: 2,
    });
    undo.push(() => publisher.drop());
    await playbackOf(onair, event);
    const { browser, close } = await launchChromium();
    undo.push(close);
    const page = await browser.newPage();
    await openWatchPage(page, `${onair.url}${watchPath(event)}`);
    console.log(
      `live soak: ${settings.minutes} min, RSS every ${settings.sampleSeconds} s; onair pid ${onair.pid} ` +
        '(LL-HLS default, x264 veryfast), publisher 720p30 with 2 s keyframes, one Chromium viewer',
    );

    const t0 = Date.now();
    const endS = settings.minutes * 60;
    const sinceStart = () => (Date.now() - t0) / 1000;
    const until = (atS: number) => sleep((atS - sinceStart()) * 1000);
    const sampleMemory = async () => {
      const samples: Sample[] = [];
      for (let atS = settings.sampleSeconds; ; atS = Math.min(atS + settings.sampleSeconds, endS)) {
        await until(atS);
        const sample = { atS: sinceStart(), procs: processTree(onair.pid) };
        samples.push(sample);
        const total = sample.procs.reduce((t, p) => t + p.rssKb, 0);
        console.log(
          `  ${clock(sample.atS)}  all ${mb(total).toFixed(1)} MB: ` +
            sample.procs.map((p) => `${p.kind} ${p.pid} ${mb(p.rssKb).toFixed(1)}`).join(', '),
        );
        if (atS >= endS) return samples;
      }
    };
    // After the first minute, and in the last LATENCY_SECONDS.
    const firstAt = Math.min(FIRST_LATENCY_AT_S, Math.max(0, endS - 2 * LATENCY_SECONDS));
    const measureLatency = async () => {
      await until(firstAt);
      const start = await measureShown(page, LATENCY_SECONDS);
      await until(endS - LATENCY_SECONDS);
      return { start, end: await measureShown(page, LATENCY_SECONDS) };
    };
    const [samples, { start, end }] = await Promise.all([sampleMemory(), measureLatency()]);
    const health = await liveHealth(onair, event);
    const events = await playerEvents(page);

    // From the reference minute on (start-up is over by then), or from the first sample of a shorter soak.
    const last = samples.at(-1)!;
    const settled = samples.find((s) => s.atS >= settings.referenceMinutes * 60 - 1 && s !== last);
    const reference = settled ?? samples[0]!;
    console.log(
      `\nResident memory of onair's processes (VmRSS), from ${clock(reference.atS)} ` +
        `(${settled ? `${settings.referenceMinutes} min` : 'the first sample'}) to the end (${clock(last.atS)})\n`,
    );
    console.log(table(summaryRows(reference, last)));
    console.log(
      "\nThe onair process holds the origin's memory cache (ORIGIN_CACHE_SIZE, 256 MB by default), which " +
        'fills with the segments viewers ask for: its growth up to that size is the cache, not a leak.',
    );
    const latency = (label: string, shown: Shown) =>
      `${label} ${p50p95(shown.samples)} s (${shown.samples.length} frames, ${shown.height}p` +
      `${shown.hls ? `, hls.js target/own ${shown.hls.target.toFixed(2)}/${shown.hls.latency.toFixed(2)} s` : ''})`;
    console.log(
      `\nglass-to-glass p50/p95: ${latency(`at ${clock(firstAt)}`, start)}; ` +
        `${latency(`at the end`, end)}`,
    );
    console.log(
      `live health at the end: passthrough ${health.passthrough}, speed ${health.speed?.toFixed(2) ?? '-'}; ` +
        'player events: ' +
        (Object.entries(events)
          .map(([e, n]) => `${e} x${n}`)
          .join(', ') || 'none'),
    );
    console.log(
      `\nmachine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ` +
        `load average at the end ${os.loadavg()[0]!.toFixed(2)}`,
    );
    console.log(
      `reproduce: BENCH_SOAK_MINUTES=${settings.minutes} BENCH_SOAK_SAMPLE_SECONDS=${settings.sampleSeconds} ` +
        `BENCH_SOAK_REFERENCE_MINUTES=${settings.referenceMinutes} ` +
        'npm run bench -- live-soak',
    );
  } finally {
    for (const u of undo.reverse()) await u();
  }
}
