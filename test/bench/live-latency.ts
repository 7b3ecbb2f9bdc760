/**
 * Live benchmark.
 *
 * 1. Glass-to-glass latency, side by side: Low-Latency HLS (the default) and regular HLS
 *    (LIVE_LOW_LATENCY=off); the presenter's keyframes every 1 s, 2 s (OBS's advice) and 8.3 s
 *    (x264's default); the top rung copied (keyframes fit the segment target: 2 s keyframes need
 *    LIVE_SEGMENT_SECONDS=2) or every rung encoded; the player talking to the origin directly or
 *    through the nginx edge (infra/nginx/run-edge.sh). The publisher (ffmpeg, OBS-like: x264
 *    zerolatency, AAC) burns its own wall clock into every frame as a 24-bit barcode (10 ms units)
 *    as it sends it.
 *    (a) frame sent -> frame listed, where the player asks: the top rung's playlist is followed as
 *        a player does (LL-HLS: blocking reloads for the next part; regular: polled every 50 ms);
 *        each new segment's frames are read back (ffmpeg decode) and each frame counts from when
 *        its part (LL-HLS) or its segment (regular) was first listed.
 *    (b) frame sent -> frame shown, once the player has settled at its live position (hls.js
 *        reckons itself within 0.3 s of its target latency, or 60 s have passed): the viewer page
 *        in Chromium (hls.js, onair's live settings) reads the barcode of every presented frame
 *        (requestVideoFrameCallback + canvas). Through the edge, the page is opened through it too
 *        (its Content-Security-Policy allows its own origin only, as with PUBLIC_URL naming the
 *        edge) and its info.json rewritten on the way in (Playwright `page.route`: the master
 *        playlist on the edge), so hls.js loads playlists and media from the edge with no detour;
 *        the edge's access log and the page's own requests show that they did.
 *    The presenter publishes over RTMP (the rows without SRT/WHIP), SRT (the same ffmpeg, MPEG-TS
 *    over SRT with 200 ms latency) or WHIP (Chromium's presenter page, `?clock=1`: a canvas draws
 *    the same barcode from `Date.now()`; fake microphone).
 *    Same machine, same clock; p50 and p95. One row (LL, 2 s copied, via the edge) keeps playing
 *    for BENCH_DRIFT_MINUTES and is measured again: latency must not creep up over an event.
 * 2. Capacity: how many simultaneous 720p30 streams one machine keeps at speed >= 1.0 (media
 *    seconds listed per wall second, measured over 20 s), top rung copied or every rung encoded
 *    (LIVE_PASSTHROUGH=off), each with LL-HLS and regular HLS. Publishers send a pre-encoded file
 *    (-c copy, 1 s keyframes) so they cost almost nothing.
 *
 * Reproduce: npm run bench -- live-latency
 *   BENCH_LATENCY_SECONDS=30 (each measurement) BENCH_DRIFT_MINUTES=30 (0: no drift measurement)
 *   BENCH_MAX_STREAMS=6 (0: no capacity runs)
 *   BENCH_SCENARIOS='LL / 2 s kf / seg 2 s,regular / 1 s' (comma-separated parts of row labels,
 *   e.g. 'via edge'; default all rows)
 * Needs ffmpeg, Chromium, nginx for the edge rows; PostgreSQL for the PostgreSQL + S3 row.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { keyframesAllowCopy } from '../../pipelines/keyframe-cadence.ts';
import { mapUriAt, parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { launchChromium } from '../helpers/browser.ts';
import { claimAsOwner } from '../helpers/pages.ts';
import { BARCODE_BITS, BARCODE_BOX, startPublisher } from '../helpers/live.ts';
import { until } from '../helpers/api.ts';
import { startTestServer } from '../helpers/server.ts';
import { startBackend } from './backends.ts';
import { edgeMissing, startEdge, tallyEdgeLog, type Edge } from './edge.ts';
import { table } from './measure.ts';

const exec = promisify(execFile);
const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const settings = {
  latencySeconds: Number(process.env.BENCH_LATENCY_SECONDS ?? 30),
  driftMinutes: Number(process.env.BENCH_DRIFT_MINUTES ?? 30),
  maxStreams: Number(process.env.BENCH_MAX_STREAMS ?? 6),
  scenarios: list(process.env.BENCH_SCENARIOS ?? ''),
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
/** A latency sample a misread barcode cannot produce (frames of a downscaled rendition misread a bit). */
const plausible = (ms: number) => ms > 0 && ms < 60_000;

// ---------------------------------------------------------------------------------------------
// What live-soak.ts shares: a live event, its playback, and glass-to-glass latency in the page.

/** An onair to talk to: an in-process TestServer or an OnairProcess. */
interface Onair {
  readonly url: string;
  readonly apiKey: string;
}

export interface LiveEvent {
  id: string;
  webinarId: string;
  live: { rtmpUrl: string; srtUrl: string | null; streamKey: string };
}

/** The SRT caller's latency in the benchmark: what the server asks at least (SRT_LATENCY_MS's default). */
const SRT_CALLER_LATENCY_MS = 200;

/**
 * A presenter going live from the browser: Chromium (fake microphone) signs in as the owner, opens
 * the presenter page with `?clock=1` (a canvas drawing the same barcode as the ffmpeg publisher)
 * and presses "Go live".
 */
async function startWhipPresenter(
  server: { url: string; apiKey: string },
  event: LiveEvent,
): Promise<{ stop(): Promise<void> }> {
  const { browser, close } = await launchChromium({ fakeMedia: true });
  try {
    const page = await (await browser.newContext({ permissions: ['camera', 'microphone'] })).newPage();
    await page.goto(`${server.url}/admin`);
    await claimAsOwner(page, {
      name: 'Bench Presenter',
      email: 'presenter@example.com',
      password: 'a long enough password',
      apiKey: server.apiKey,
    });
    await page.waitForSelector('#library');
    await page.goto(`${server.url}/present/${event.id}?clock=1`);
    await page.waitForSelector('#go-live:enabled');
    await page.click('#go-live');
    await page.waitForSelector('#state[data-state="live"]', { timeout: 30_000 });
    return { stop: close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function createLiveEvent(onair: Onair, title: string): Promise<LiveEvent> {
  const response = await fetch(`${onair.url}/api/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${onair.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, type: 'live' }),
  });
  return (await response.json()) as LiveEvent;
}

/** The watch page's path. */
export const watchPath = (event: LiveEvent) => `/w/${event.webinarId.replace(/-/g, '')}`;

/** The signed master playlist the watch page would play, once the event is live. */
export async function playbackOf(onair: Onair, event: LiveEvent): Promise<string> {
  return until(
    'the live playback',
    async () => {
      const response = await fetch(`${onair.url}${watchPath(event)}/info.json`);
      return ((await response.json()) as { playback: { master: string } | null }).playback?.master;
    },
    120_000,
  );
}

/** What /api/events/<id>/live says (the parts benchmarks show). */
export async function liveHealth(onair: Onair, event: LiveEvent) {
  const response = await fetch(`${onair.url}/api/events/${event.id}/live`, {
    headers: { authorization: `Bearer ${onair.apiKey}` },
  });
  return (await response.json()) as { passthrough: boolean; speed: number | null };
}

/** The sender's clock (ms) from a 24-bit code in 10 ms units, unwrapped against `now`. */
function unwrap(code: number, nowMs: number): number {
  const units = Math.floor(nowMs / 10);
  const modulo = 2 ** BARCODE_BITS;
  return (units - ((((units - code) % modulo) + modulo) % modulo)) * 10;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** "p50/p95" of latencies in ms, in seconds; '-' without samples. */
export function p50p95(ms: number[]): string {
  if (ms.length === 0) return '-';
  return `${(percentile(ms, 50) / 1000).toFixed(2)}/${(percentile(ms, 95) / 1000).toFixed(2)}`;
}

/** How long a player may take to reach its target latency after it starts playing. */
const SETTLE_LIMIT_MS = 60_000;

/**
 * Opens the watch page and waits until the player plays and has settled at its live position:
 * hls.js reckons itself within 0.3 s of its target latency (it catches up by playing at most 10 %
 * faster, so a start 3 s behind takes 30 s), then 2 s more; at most SETTLE_LIMIT_MS. Returns the
 * seconds from playing to settled (undefined: not within the limit).
 */
export async function openWatchPage(page: Page, url: string): Promise<number | undefined> {
  await page.goto(url);
  await page.waitForFunction(
    () =>
      ((window as unknown as { onairPlayer?: { video: HTMLVideoElement } }).onairPlayer?.video.currentTime ??
        0) > 1,
    undefined,
    { timeout: 90_000 },
  );
  const playing = Date.now();
  // Passed as text: tsx would wrap named functions in a helper the page does not have.
  await page.evaluate(`(() => {
    const events = (window.benchPlayerEvents = []);
    window.onairPlayer.hls?.on('hlsError', (_, data) =>
      events.push('hls.js ' + data.details + (data.fatal ? ' (fatal)' : '')));
    window.onairPlayer.video.addEventListener('waiting', () => events.push('video waiting'));
  })()`);
  const settled = await page
    .waitForFunction(
      () => {
        const hls = (
          window as unknown as { onairPlayer: { hls?: { latency: number; targetLatency: number | null } } }
        ).onairPlayer.hls;
        return !hls || hls.latency - (hls.targetLatency ?? 0) < 0.3;
      },
      undefined,
      { timeout: SETTLE_LIMIT_MS, polling: 250 },
    )
    .then(
      () => (Date.now() - playing) / 1000,
      (err: unknown) => {
        if (err instanceof Error && err.name === 'TimeoutError') return undefined;
        throw err;
      },
    );
  await page.waitForTimeout(2000);
  return settled;
}

/** hls.js errors and stalls (the video waiting for data) since `openWatchPage` returned, by kind. */
export async function playerEvents(page: Page): Promise<Record<string, number>> {
  const errors = await page.evaluate<string[]>('window.benchPlayerEvents ?? []');
  const counts: Record<string, number> = {};
  for (const e of errors) counts[e] = (counts[e] ?? 0) + 1;
  return counts;
}

export interface Shown {
  /** Glass-to-glass latency of every frame presented, ms (implausible reads dropped). */
  samples: number[];
  /** Frames presented, plausible or not. */
  frames: number;
  /** The rendition played (its height). */
  height: number;
  /** hls.js at the end: the latency it aims for and the one it reckons it has (s), behind the live edge. */
  hls: { target: number; latency: number } | undefined;
}

/** Frame sent -> frame shown, for `seconds`, in the page `openWatchPage` opened. */
export async function measureShown(page: Page, seconds: number): Promise<Shown> {
  const shown = await page.evaluate<{
    samples: number[];
    height: number;
    hls?: { target: number; latency: number };
  }>(`(async () => {
    const seconds = ${seconds}, bits = ${BARCODE_BITS}, box = ${BARCODE_BOX};
    const video = window.onairPlayer.video;
    const canvas = document.createElement('canvas');
    canvas.width = 12;
    canvas.height = 2;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const samples = [];
    const scale = video.videoWidth / 1280;
    await new Promise((resolve) => {
      const end = performance.now() + seconds * 1000;
      // Without a frame for a while (a stall), the measurement still ends.
      const timer = setTimeout(resolve, seconds * 1000 + 10000);
      function onFrame() {
        const now = Date.now();
        ctx.drawImage(video, 0, 0, 12 * box * scale, 2 * box * scale, 0, 0, 12, 2);
        const pixels = ctx.getImageData(0, 0, 12, 2).data;
        let code = 0;
        for (let k = 0; k < bits; k++) if (pixels[k * 4] > 128) code += 2 ** k;
        const units = Math.floor(now / 10);
        const modulo = 2 ** bits;
        samples.push(now - (units - ((((units - code) % modulo) + modulo) % modulo)) * 10);
        if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
        else {
          clearTimeout(timer);
          resolve();
        }
      }
      video.requestVideoFrameCallback(onFrame);
    });
    const hls = window.onairPlayer.hls;
    return {
      samples,
      height: video.videoHeight,
      hls: hls ? { target: hls.targetLatency, latency: hls.latency } : undefined,
    };
  })()`);
  return {
    samples: shown.samples.filter(plausible),
    frames: shown.samples.length,
    height: shown.height,
    hls: shown.hls,
  };
}

// ---------------------------------------------------------------------------------------------
// (a) frame sent -> frame listed

/** Barcodes of every frame of init+segment: crop the code, one pixel per box, threshold. */
async function frameCodes(file: string): Promise<number[]> {
  const { stdout } = await exec(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-i', file],
      ...['-vf', `crop=${12 * BARCODE_BOX}:${2 * BARCODE_BOX}:0:0,scale=12:2:flags=area`],
      ...['-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const codes: number[] = [];
  for (let at = 0; at + BARCODE_BITS <= stdout.length; at += BARCODE_BITS) {
    let code = 0;
    for (let k = 0; k < BARCODE_BITS; k++) if (stdout[at + k]! > 128) code += 2 ** k;
    codes.push(code);
  }
  return codes;
}

interface Listed {
  samples: number[];
  /** The playlist had EXT-X-PART-INF (undefined: never read). */
  lowLatency: boolean | undefined;
  segmentSeconds: number;
  /** Playlist answers other than 200 (by status), and segments that could not be read. */
  errors: Record<string, number>;
}

/**
 * Follows the top rung's playlist at `top` as a player does until `stop()`: LL-HLS by blocking
 * reloads for the next part (RFC 8216bis 6.2.5.2), regular HLS by polling every 50 ms. Each frame
 * of a new segment counts from when it could first be loaded: its part's first listing (LL-HLS),
 * else its segment's. Frames are matched to parts by their position in the segment (parts are
 * cut on frames). Segments (or their parts) listed before the first answer are not counted.
 */
function followListed(top: string, work: string): { stop(): Promise<Listed> } {
  let stopped = false;
  const firstListed = new Map<string, number>();
  const before = new Set<string>();
  const done = new Set<string>();
  const result: Listed = { samples: [], lowLatency: undefined, segmentSeconds: 0, errors: {} };
  // Decoding runs beside the reloads (one at a time), so a reload is never late for it.
  let decoding = Promise.resolve();

  const measureSegment = async (
    init: string,
    segment: string,
    parts: { duration: number; at: number }[],
    at: number,
  ) => {
    const [head, body] = await Promise.all(
      [init, segment].map(async (uri) => Buffer.from(await (await fetch(new URL(uri, top))).arrayBuffer())),
    );
    const file = path.join(work, 'segment.mp4');
    fs.writeFileSync(file, Buffer.concat([head!, body!]));
    const codes = await frameCodes(file);
    const total = parts.reduce((t, p) => t + p.duration, 0);
    for (const [k, code] of codes.entries()) {
      // The frame's middle, as a share of the segment, falls in one part.
      let t = ((k + 0.5) / codes.length) * total;
      const part = parts.find((p) => (t -= p.duration) < 0);
      const listedAt = part?.at ?? at;
      result.samples.push(listedAt - unwrap(code, listedAt));
    }
  };

  const loop = (async () => {
    let next: { msn: number; part: number } | undefined;
    while (!stopped) {
      const url = new URL(top);
      if (next) {
        url.searchParams.set('_HLS_msn', String(next.msn));
        url.searchParams.set('_HLS_part', String(next.part));
      }
      const response = await fetch(url, { signal: AbortSignal.timeout(20_000) });
      const text = await response.text();
      const at = Date.now();
      if (response.status !== 200) {
        result.errors[response.status] = (result.errors[response.status] ?? 0) + 1;
        next = undefined;
        await sleep(200);
        continue;
      }
      const playlist = parseMediaPlaylist(text);
      const first = result.lowLatency === undefined;
      result.lowLatency ??= playlist.lowLatency !== undefined;
      result.segmentSeconds = playlist.segments.at(-1)?.duration ?? 0;
      const pending = playlist.lowLatency?.pendingParts ?? [];
      for (const uri of [
        ...playlist.segments.flatMap((s) => [...(s.parts ?? []).map((p) => p.uri), s.uri]),
        ...pending.map((p) => p.uri),
      ]) {
        if (firstListed.has(uri)) continue;
        firstListed.set(uri, at);
        if (first) before.add(uri);
      }
      for (const [i, s] of playlist.segments.entries()) {
        if (done.has(s.uri)) continue;
        done.add(s.uri);
        const parts = s.parts ?? [];
        if ([s.uri, ...parts.map((p) => p.uri)].some((uri) => before.has(uri))) continue;
        const init = mapUriAt(playlist, i)!;
        const timed = parts.map((p) => ({ duration: p.duration, at: firstListed.get(p.uri)! }));
        const segmentAt = firstListed.get(s.uri)!;
        decoding = decoding.then(() =>
          measureSegment(
            init,
            s.uri,
            timed.length ? timed : [{ duration: s.duration, at: segmentAt }],
            segmentAt,
          ).catch((err: unknown) => {
            const key = `segment not read (${String(err)})`;
            result.errors[key] = (result.errors[key] ?? 0) + 1;
          }),
        );
      }
      if (result.lowLatency)
        next = { msn: playlist.mediaSequence + playlist.segments.length, part: pending.length };
      else await sleep(50);
    }
  })().catch((err: unknown) => {
    // A failure after the stop (the server going away) is no news; before it, it ends the figures.
    if (!stopped) result.errors[`playlist follower stopped (${String(err)})`] = 1;
  });

  return {
    async stop() {
      stopped = true;
      await loop; // a blocking reload in flight ends within a part
      await decoding;
      result.samples = result.samples.filter(plausible);
      return result;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The page's own media requests, by host and kind: what shows it played through the edge.

const MEDIA_KINDS = ['playlist', 'blocking', 'part', 'segment', 'init'] as const;
type MediaKind = (typeof MEDIA_KINDS)[number];

interface PageTraffic {
  /** Requests by host ('origin', 'edge') and kind (blocking: a playlist reload with _HLS_msn). */
  counts: Record<string, Record<MediaKind, number>>;
  /** Requests for a URL (with its query) the page had asked for before. */
  repeated: number;
  /** Answers of 400 or more: `<status> <kind> <url>`, the first few. */
  failures: string[];
  failed: number;
}

function watchPageTraffic(page: Page, hosts: Record<string, string>): PageTraffic {
  const traffic: PageTraffic = { counts: {}, repeated: 0, failures: [], failed: 0 };
  const seen = new Set<string>();
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/s/')) return;
    if (seen.has(url.href)) traffic.repeated += 1;
    seen.add(url.href);
    const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    const kind: MediaKind = name.endsWith('.m3u8')
      ? url.searchParams.has('_HLS_msn')
        ? 'blocking'
        : 'playlist'
      : name.startsWith('part_')
        ? 'part'
        : name.endsWith('.m4s')
          ? 'segment'
          : 'init';
    const host = hosts[url.host] ?? url.host;
    const counts = (traffic.counts[host] ??= { playlist: 0, blocking: 0, part: 0, segment: 0, init: 0 });
    counts[kind] += 1;
    if (response.status() >= 400) {
      traffic.failed += 1;
      if (traffic.failures.length < 5)
        traffic.failures.push(`${response.status()} ${kind} ${url.pathname}${url.search}`);
    }
  });
  return traffic;
}

/** Requests of `kinds` the page made to any of `hosts` (default: all). */
function requestsOf(traffic: PageTraffic['counts'], kinds: readonly MediaKind[], hosts?: string[]): number {
  return Object.entries(traffic)
    .filter(([host]) => !hosts || hosts.includes(host))
    .reduce((t, [, counts]) => t + kinds.reduce((u, k) => u + counts[k], 0), 0);
}

/** The page's info.json, with its master playlist moved to the edge: hls.js then loads everything from there. */
async function playThroughEdge(page: Page, event: LiveEvent, edgePort: number): Promise<void> {
  await page.route(
    (url) => url.pathname === `${watchPath(event)}/info.json`,
    async (route) => {
      const response = await route.fetch();
      const info = (await response.json()) as { playback?: { master: string } | null };
      if (info.playback) {
        const master = new URL(info.playback.master, route.request().url());
        master.host = `127.0.0.1:${edgePort}`;
        info.playback.master = master.toString();
      }
      await route.fulfill({ response, json: info });
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Scenario {
  /** How the presenter publishes (default RTMP from an OBS-like ffmpeg). */
  protocol?: 'rtmp' | 'srt' | 'whip';
  lowLatency: boolean;
  keyframeSeconds: number;
  segmentSeconds: number;
  via: 'direct' | 'edge';
  /** The scale-out engines: segments into S3 (s3rver), PostgreSQL. */
  scaleOut?: boolean;
  /** Played on for BENCH_DRIFT_MINUTES and measured again. */
  drift?: boolean;
}

/** x264's default keyframe interval (250 frames at 30 fps): what OBS in Simple mode sends. */
const X264_DEFAULT_KEYFRAMES = 250 / 30;

const SCENARIOS: Scenario[] = [
  { lowLatency: true, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
  { lowLatency: true, keyframeSeconds: 2, segmentSeconds: 2, via: 'direct' },
  { lowLatency: true, keyframeSeconds: 2, segmentSeconds: 2, via: 'edge', drift: true },
  { lowLatency: true, keyframeSeconds: 2, segmentSeconds: 1, via: 'direct' },
  { lowLatency: true, keyframeSeconds: 2, segmentSeconds: 1, via: 'edge' },
  { lowLatency: true, keyframeSeconds: X264_DEFAULT_KEYFRAMES, segmentSeconds: 1, via: 'direct' },
  { lowLatency: true, keyframeSeconds: X264_DEFAULT_KEYFRAMES, segmentSeconds: 1, via: 'edge' },
  { lowLatency: false, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
  { lowLatency: false, keyframeSeconds: 2, segmentSeconds: 2, via: 'direct' },
  { lowLatency: false, keyframeSeconds: 2, segmentSeconds: 1, via: 'direct' },
  { lowLatency: false, keyframeSeconds: 2, segmentSeconds: 1, via: 'edge' },
  { lowLatency: false, keyframeSeconds: 2, segmentSeconds: 2, via: 'edge' },
  { lowLatency: false, keyframeSeconds: X264_DEFAULT_KEYFRAMES, segmentSeconds: 1, via: 'direct' },
  { lowLatency: false, keyframeSeconds: X264_DEFAULT_KEYFRAMES, segmentSeconds: 1, via: 'edge' },
  // The default on the scale-out engines: segments into S3, playlists and parts via Redis.
  { lowLatency: true, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct', scaleOut: true },
  // SRT (ffmpeg as the encoder, MPEG-TS, SRT latency SRT_LATENCY_MS) and WHIP (Chromium's presenter
  // page drawing the clock on a canvas; the bridge re-encodes with keyframes every segment), beside
  // the RTMP rows with the same settings above.
  { protocol: 'srt', lowLatency: true, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
  { protocol: 'srt', lowLatency: false, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
  { protocol: 'whip', lowLatency: true, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
  { protocol: 'whip', lowLatency: false, keyframeSeconds: 1, segmentSeconds: 1, via: 'direct' },
];

const seconds = (s: number) => `${Number(s.toFixed(1))} s`;

function labelOf(s: Scenario): string {
  const copied = keyframesAllowCopy(s.keyframeSeconds, s.segmentSeconds) ? 'copied' : 'encoded';
  return [
    (s.protocol ?? 'rtmp').toUpperCase(),
    s.lowLatency ? 'LL' : 'regular',
    `${seconds(s.keyframeSeconds)} kf`,
    `seg ${seconds(s.segmentSeconds)}`,
    copied,
    s.via === 'edge' ? 'via edge' : 'direct',
    ...(s.scaleOut ? ['PostgreSQL + S3'] : []),
  ].join(' / ');
}

function onairEnv(s: Scenario): Record<string, string> {
  return {
    RTMP_PORT: '0',
    X264_PRESET: 'veryfast',
    LIVE_LOW_LATENCY: s.lowLatency ? 'on' : 'off',
    LIVE_SEGMENT_SECONDS: String(s.segmentSeconds),
  };
}

interface EdgeCheck {
  scenario: string;
  page: PageTraffic['counts'];
  log: ReturnType<typeof tallyEdgeLog>;
}

/** Runs `body` with a stack of clean-ups, undone in reverse order however it ends. */
async function withCleanup<T>(body: (defer: (undo: () => unknown) => void) => Promise<T>): Promise<T> {
  const undo: (() => unknown)[] = [];
  try {
    return await body((u) => undo.push(u));
  } finally {
    for (const u of undo.reverse()) await u();
  }
}

async function latencyScenario(s: Scenario, drift: boolean, edgeChecks: EdgeCheck[]) {
  const label = labelOf(s);
  console.log(
    `  ${label}: ${Object.entries(onairEnv(s))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}; publisher keyframes every ${s.keyframeSeconds.toFixed(2)} s`,
  );
  return withCleanup(async (defer) => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-live-'));
    defer(() => fs.rmSync(work, { recursive: true, force: true }));
    const backend = s.scaleOut ? await startBackend('postgres+s3') : undefined;
    if (backend) defer(() => backend.stop());
    const server = await startTestServer({ ...onairEnv(s), ...backend?.env });
    defer(() => server.close());
    const event = await createLiveEvent(server, label);
    if (s.protocol === 'whip') {
      const presenter = await startWhipPresenter(server, event);
      defer(() => presenter.stop());
    } else {
      const publisher = startPublisher(
        s.protocol === 'srt' ? event.live.srtUrl! : `${event.live.rtmpUrl}/${event.live.streamKey}`,
        { clockBarcode: true, keyframeSeconds: s.keyframeSeconds, srtLatencyMs: SRT_CALLER_LATENCY_MS },
      );
      defer(() => publisher.drop());
    }
    const master = await playbackOf(server, event);
    const originPort = Number(new URL(server.url).port);
    let edge: Edge | undefined;
    if (s.via === 'edge') {
      edge = await startEdge(work, originPort, playbackKey(server.secret), new URL(master).pathname);
      defer(() => edge!.stop());
    }
    const played = new URL(master);
    if (edge) played.host = `127.0.0.1:${edge.port}`;
    const variants = parseMasterPlaylist(await (await fetch(played)).text()).variants;
    const top = new URL(variants[0]!.uri, played).toString();

    const { browser, close } = await launchChromium();
    defer(close);
    const page = await browser.newPage();
    const traffic = watchPageTraffic(page, {
      [`127.0.0.1:${originPort}`]: 'origin',
      ...(edge ? { [`127.0.0.1:${edge.port}`]: 'edge' } : {}),
    });
    if (edge) await playThroughEdge(page, event, edge.port);

    const listing = followListed(top, work);
    // Through the edge, the page too (as viewers do when PUBLIC_URL names the edge): the page's
    // Content-Security-Policy lets it connect to its own origin only.
    const settled = await openWatchPage(
      page,
      `${edge ? `http://127.0.0.1:${edge.port}` : server.url}${watchPath(event)}`,
    );
    const first = await measureShown(page, settings.latencySeconds);
    const listed = await listing.stop();
    let after: Shown | undefined;
    if (drift) {
      console.log(`    playing on for ${settings.driftMinutes} min, then measuring again`);
      await sleep(settings.driftMinutes * 60_000);
      after = await measureShown(page, settings.latencySeconds);
    }
    const health = await liveHealth(server, event);
    const events = await playerEvents(page);
    if (edge) {
      await sleep(1500); // nginx flushes its access log every second
      edgeChecks.push({ scenario: label, page: traffic.counts, log: tallyEdgeLog(edge.log) });
    }

    const mode = listed.lowLatency === undefined ? '?' : listed.lowLatency ? 'LL' : 'regular';
    const asked = s.lowLatency ? 'LL' : 'regular';
    const notes = [
      ...(mode !== asked ? [`asked for ${asked}`] : []),
      ...Object.entries(listed.errors).map(
        ([what, n]) => `${/^\d+$/.test(what) ? `playlist ${what}` : what} x${n}`,
      ),
      ...(traffic.failed
        ? [`page got ${traffic.failed} failed media answers: ${traffic.failures.join('; ')}`]
        : []),
      ...Object.entries(events).map(([e, n]) => `${e} x${n}`),
    ];
    return {
      scenario: label,
      mode,
      'segment s': listed.segmentSeconds.toFixed(1),
      passthrough: String(health.passthrough),
      // Below 1.0 the live encoder falls behind the presenter (this 2-core machine also runs the
      // publisher, Chromium and the benchmark's decoding), and latency grows.
      'worker speed': health.speed === null ? '-' : health.speed.toFixed(2),
      'shown p50/p95 s': p50p95(first.samples),
      'listed p50/p95 s': p50p95(listed.samples),
      ...(settings.driftMinutes > 0
        ? { [`after ${settings.driftMinutes} min p50/p95 s`]: after ? p50p95(after.samples) : '-' }
        : {}),
      samples: `${listed.samples.length}/${first.samples.length}${after ? `/${after.samples.length}` : ''}`,
      played: `${first.height}p`,
      'settled s': settled?.toFixed(0) ?? `no (${SETTLE_LIMIT_MS / 1000})`,
      'hls.js target/own s': first.hls
        ? `${first.hls.target.toFixed(2)}/${first.hls.latency.toFixed(2)}`
        : '-',
      'page blocking/part/seg (again)': `${(['blocking', 'part', 'segment'] as const)
        .map((k) => requestsOf(traffic.counts, [k]))
        .join('/')} (${traffic.repeated})`,
      notes: notes.join('; ') || '-',
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Capacity

/**
 * Media seconds the top rung gains per wall second, for each stream: the playlist is polled every
 * 100 ms and the rate taken between its first and last change in the window (a playlist grows in
 * whole segments, so a plain before/after difference would be off by up to one segment).
 */
async function speeds(masters: string[], seconds: number): Promise<number[]> {
  return Promise.all(
    masters.map(async (master) => {
      const top = new URL(
        parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri,
        master,
      ).toString();
      const changes: { at: number; total: number }[] = [];
      let last = -1;
      const end = Date.now() + seconds * 1000;
      while (Date.now() < end) {
        const p = parseMediaPlaylist(await (await fetch(top)).text());
        const total =
          p.segments.reduce((s, x) => s + x.duration, 0) + p.mediaSequence * (p.segments[0]?.duration ?? 0);
        if (total !== last) changes.push({ at: Date.now(), total });
        last = total;
        await sleep(100);
      }
      const first = changes[1] ?? changes[0];
      const final = changes.at(-1);
      if (!first || !final || final.at === first.at) return 0;
      return (final.total - first.total) / ((final.at - first.at) / 1000);
    }),
  );
}

async function capacity(label: string, env: Record<string, string>, source: string) {
  const rows: Record<string, string | number>[] = [];
  for (let n = 1; n <= settings.maxStreams; n++) {
    const server = await startTestServer({
      RTMP_PORT: '0',
      X264_PRESET: 'veryfast',
      LIVE_STREAMS_PER_WORKER: String(n),
      ...env,
    });
    const children: ChildProcess[] = [];
    try {
      const events = await Promise.all(
        Array.from({ length: n }, (_, i) => createLiveEvent(server, `cap ${i}`)),
      );
      for (const e of events) {
        children.push(
          spawn(
            'ffmpeg',
            [
              ...['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', source],
              ...['-c', 'copy', '-f', 'flv', `${e.live.rtmpUrl}/${e.live.streamKey}`],
            ],
            { stdio: 'ignore' },
          ),
        );
      }
      const masters = await Promise.all(events.map((e) => playbackOf(server, e)));
      await sleep(10_000); // past start-up
      const s = await speeds(masters, 20);
      const min = Math.min(...s);
      rows.push({
        mode: label,
        streams: n,
        'min speed': min.toFixed(2),
        speeds: s.map((x) => x.toFixed(2)).join(' '),
      });
      console.log(`  ${label}: ${n} stream(s), speeds ${s.map((x) => x.toFixed(2)).join(' ')}`);
      if (min < 0.99) break;
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await server.close();
    }
  }
  return rows;
}

const CAPACITY_MODES: [string, Record<string, string>][] = [
  ['top rung copied, LL-HLS (default)', {}],
  ['top rung copied, regular HLS', { LIVE_LOW_LATENCY: 'off' }],
  ['every rung encoded, LL-HLS', { LIVE_PASSTHROUGH: 'off' }],
  ['every rung encoded, regular HLS', { LIVE_PASSTHROUGH: 'off', LIVE_LOW_LATENCY: 'off' }],
];

// ---------------------------------------------------------------------------------------------

function selectedScenarios(): Scenario[] {
  let chosen = SCENARIOS.filter(
    (s) => settings.scenarios.length === 0 || settings.scenarios.some((part) => labelOf(s).includes(part)),
  );
  const missing = chosen.some((s) => s.via === 'edge') ? edgeMissing() : undefined;
  if (missing) {
    console.log(`edge rows skipped: ${missing}`);
    chosen = chosen.filter((s) => s.via !== 'edge');
  }
  return chosen;
}

export async function run(): Promise<void> {
  const machine =
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ` +
    `load average at start ${os.loadavg()[0]!.toFixed(2)}; x264 veryfast`;
  const scenarios = selectedScenarios();
  if (scenarios.length === 0)
    console.log(`no latency row matches BENCH_SCENARIOS='${settings.scenarios.join(',')}'`);
  else {
    console.log(
      `glass-to-glass latency, ${settings.latencySeconds} s per measurement (this takes a few minutes)`,
    );
    const rows: Record<string, string>[] = [];
    const edgeChecks: EdgeCheck[] = [];
    for (const s of scenarios) {
      const row = await latencyScenario(s, s.drift === true && settings.driftMinutes > 0, edgeChecks).catch(
        (err: unknown) => {
          const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
          return { scenario: labelOf(s), notes: `FAILED: ${message}` };
        },
      );
      console.log(
        `    ${Object.entries(row)
          .slice(1)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
      rows.push(row);
    }
    // Failed rows lack the figures' columns: fill them so every row has every column.
    const columns = Object.keys(rows.find((r) => 'mode' in r) ?? rows[0]!);
    console.log(
      '\nlisted: LL-HLS from the part, regular from the segment (top rung, where the player asks); ' +
        'samples: listed/shown[/after]\n',
    );
    console.log(table(rows.map((r) => Object.fromEntries(columns.map((k) => [k, r[k] ?? '-'])))));
    if (edgeChecks.length > 0) {
      console.log(
        "\nthrough the edge: the page's media requests by host (blocking: playlist reloads with _HLS_msn), " +
          'and what the edge logged (held: playlist answers that took >= 0.1 s, i.e. blocking reloads)\n',
      );
      console.log(
        table(
          edgeChecks.map((c) => ({
            scenario: c.scenario,
            [`page: edge ${MEDIA_KINDS.join('/')}`]: MEDIA_KINDS.map((k) =>
              requestsOf(c.page, [k], ['edge']),
            ).join('/'),
            'page: origin media': requestsOf(c.page, MEDIA_KINDS, ['origin']),
            'edge log: playlists (held)': `${c.log.playlists} (${c.log.held})`,
            'edge log: parts': c.log.parts,
            'edge log: segments': c.log.segments,
            'edge log: inits': c.log.inits,
            'edge log: pages': c.log.other,
            'edge log: errors':
              Object.entries(c.log.errors)
                .map(([k, n]) => `${k} x${n}`)
                .join(' ') || '-',
          })),
        ),
      );
    }
  }

  if (settings.maxStreams > 0) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-src-'));
    try {
      console.log('\ncapacity: simultaneous 720p30 streams at speed >= 1.0');
      const source = path.join(work, 'obs-720p30.flv');
      // What OBS would send as the event page asks (x264 veryfast zerolatency, 1 s keyframes, AAC), once to a file.
      const made = await startPublisher(source, { seconds: 30, preset: 'veryfast', realtime: false }).exited;
      if (made !== 0) throw new Error("could not make the publishers' source");
      const rows = [];
      for (const [label, env] of CAPACITY_MODES) rows.push(...(await capacity(label, env, source)));
      console.log(table(rows));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  console.log(`\nmachine: ${machine}`);
  console.log(
    `reproduce: BENCH_LATENCY_SECONDS=${settings.latencySeconds} BENCH_DRIFT_MINUTES=${settings.driftMinutes} ` +
      `BENCH_MAX_STREAMS=${settings.maxStreams} BENCH_SCENARIOS='${settings.scenarios.join(',')}' ` +
      'npm run bench -- live-latency',
  );
}
