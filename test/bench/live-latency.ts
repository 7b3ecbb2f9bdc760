/**
 * Live benchmark.
 *
 * 1. Glass-to-glass latency. The publisher (ffmpeg, OBS-like: x264 zerolatency, 2 s keyframes,
 *    AAC) burns its own wall clock into every frame as a 24-bit barcode (10 ms units) as it sends
 *    it. (a) frame sent -> its segment listed: the top rung's live playlist is polled every 50 ms;
 *    for each new segment, every frame's barcode is read back (ffmpeg decode) and compared with
 *    the time the segment appeared. (b) frame sent -> frame shown: the viewer page in Chromium
 *    (hls.js, onair's live settings) reads the barcode of every presented frame
 *    (requestVideoFrameCallback + canvas). Same machine, same clock. p50 and p95.
 * 2. Capacity: how many simultaneous 720p30 streams one machine keeps at speed >= 1.0 (media
 *    seconds listed per wall second, measured over 20 s), with the top rung copied (default) and
 *    with every rung encoded (LIVE_PASSTHROUGH=off). Publishers send a pre-encoded file (-c copy)
 *    so they cost almost nothing.
 *
 * Reproduce: npm run bench -- live-latency   (BENCH_LATENCY_SECONDS=30, BENCH_MAX_STREAMS=6)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { launchChromium } from '../helpers/browser.ts';
import { BARCODE_BITS, BARCODE_BOX, startPublisher } from '../helpers/live.ts';
import { until } from '../helpers/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startBackend } from './backends.ts';
import { table } from './measure.ts';

const exec = promisify(execFile);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
const MAX_STREAMS = Number(process.env.BENCH_MAX_STREAMS ?? 6);

interface LiveEvent {
  id: string;
  webinarId: string;
  live: { rtmpUrl: string; streamKey: string };
}

async function createLiveEvent(server: TestServer, title: string): Promise<LiveEvent> {
  const response = await fetch(`${server.url}/api/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ title, type: 'live' }),
  });
  return (await response.json()) as LiveEvent;
}

async function playbackOf(server: TestServer, event: LiveEvent): Promise<string> {
  return until(
    'the live playback',
    async () => {
      const response = await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/info.json`);
      return ((await response.json()) as { playback: { master: string } | null }).playback?.master;
    },
    120_000,
  );
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

async function latencyScenario(label: string, env: Record<string, string>) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-live-'));
  const server = await startTestServer({ RTMP_PORT: '0', X264_PRESET: 'veryfast', ...env });
  const event = await createLiveEvent(server, label);
  const publisher = startPublisher(`${event.live.rtmpUrl}/${event.live.streamKey}`, { clockBarcode: true });
  const { browser, close } = await launchChromium();
  let stop = false;
  try {
    const master = await playbackOf(server, event);
    const top = new URL(
      parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!.uri,
      master,
    ).toString();
    const base = top.slice(0, top.lastIndexOf('/') + 1);

    // (a) segment listed
    const listed: number[] = [];
    const seen = new Set<string>();
    const poller = (async () => {
      let first = true;
      while (!stop) {
        const text = await (await fetch(top)).text();
        const at = Date.now();
        const playlist = parseMediaPlaylist(text);
        for (const [i, s] of playlist.segments.entries()) {
          if (seen.has(s.uri)) continue;
          seen.add(s.uri);
          if (first) continue; // already there when we started looking
          const map =
            [...playlist.segments.slice(0, i + 1)].reverse().find((x) => x.mapUri)?.mapUri ??
            playlist.mapUri!;
          const file = path.join(work, `seg-${seen.size}.mp4`);
          const [init, seg] = await Promise.all([
            fetch(base + map).then((r) => r.arrayBuffer()),
            fetch(base + s.uri).then((r) => r.arrayBuffer()),
          ]);
          fs.writeFileSync(file, Buffer.concat([Buffer.from(init), Buffer.from(seg)]));
          // Every frame of the segment became visible to players when the segment was listed.
          for (const code of await frameCodes(file)) listed.push(at - unwrap(code, at));
        }
        first = false;
        await new Promise((r) => setTimeout(r, 50));
      }
    })().catch((err: unknown) => {
      if (!stop) throw err;
    });

    // (b) frame shown
    const page = await browser.newPage();
    await page.goto(`${server.url}/w/${event.webinarId.replace(/-/g, '')}`);
    await page.waitForFunction(
      () =>
        ((window as unknown as { onairPlayer?: { video: HTMLVideoElement } }).onairPlayer?.video
          .currentTime ?? 0) > 1,
      undefined,
      { timeout: 60_000 },
    );
    await page.waitForTimeout(5000); // let the player settle at its live position
    // Passed as text: tsx would wrap named functions in a helper the page does not have.
    const shown = await page.evaluate<{ samples: number[]; height: number }>(`(async () => {
      const seconds = ${LATENCY_SECONDS}, bits = ${BARCODE_BITS}, box = ${BARCODE_BOX};
      const video = window.onairPlayer.video;
      const canvas = document.createElement('canvas');
      canvas.width = 12;
      canvas.height = 2;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      const samples = [];
      const scale = video.videoWidth / 1280;
      await new Promise((resolve) => {
        const end = performance.now() + seconds * 1000;
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
          else resolve();
        }
        video.requestVideoFrameCallback(onFrame);
      });
      return { samples, height: video.videoHeight };
    })()`);
    stop = true;
    await poller;
    const health = (await (
      await fetch(`${server.url}/api/events/${event.id}/live`, {
        headers: { authorization: `Bearer ${server.apiKey}` },
      })
    ).json()) as { passthrough: boolean; speed: number };
    // Frames read from a downscaled rendition can misread a bit: drop the impossible.
    const plausible = (v: number) => v > 0 && v < 60_000;
    const a = listed.filter(plausible);
    const b = shown.samples.filter(plausible);
    const segment = parseMediaPlaylist(await (await fetch(top)).text()).segments.at(-1)?.duration ?? 0;
    return {
      scenario: label,
      passthrough: String(health.passthrough),
      segment_s: segment.toFixed(1),
      'listed p50 s': (percentile(a, 50) / 1000).toFixed(2),
      'listed p95 s': (percentile(a, 95) / 1000).toFixed(2),
      'shown p50 s': (percentile(b, 50) / 1000).toFixed(2),
      'shown p95 s': (percentile(b, 95) / 1000).toFixed(2),
      samples: `${a.length}/${b.length}`,
      played: `${shown.height}p`,
    };
  } finally {
    stop = true;
    await close();
    await publisher.drop();
    await server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

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
        await new Promise((r) => setTimeout(r, 100));
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
  for (let n = 1; n <= MAX_STREAMS; n++) {
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
      await new Promise((r) => setTimeout(r, 10_000)); // past start-up
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

export async function run(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-src-'));
  try {
    console.log('glass-to-glass latency (this takes a few minutes)');
    const latency = [
      await latencyScenario('default (2 s keyframes, top rung copied)', {}),
      await latencyScenario('every rung encoded (LIVE_PASSTHROUGH=off, 1 s segments)', {
        LIVE_PASSTHROUGH: 'off',
      }),
    ];
    // The same default scenario on the scale-out engines: segments into S3, playlists via Redis.
    const scaled = await startBackend('postgres+s3');
    try {
      latency.push(await latencyScenario('default, on PostgreSQL + S3 (s3rver)', scaled.env));
    } finally {
      await scaled.stop();
    }
    console.log(table(latency));

    console.log('\ncapacity: simultaneous 720p30 streams at speed >= 1.0');
    const source = path.join(work, 'obs-720p30.flv');
    // What OBS would send (x264 veryfast zerolatency, 2 s keyframes, AAC), written once to a file.
    const made = await startPublisher(source, { seconds: 30, preset: 'veryfast', realtime: false }).exited;
    if (made !== 0) throw new Error("could not make the publishers' source");
    const rows = [
      ...(await capacity('top rung copied (default)', {}, source)),
      ...(await capacity('every rung encoded', { LIVE_PASSTHROUGH: 'off' }, source)),
    ];
    console.log(table(rows));
    console.log(`\nmachine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}); x264 veryfast`);
    console.log('reproduce: npm run bench -- live-latency');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
