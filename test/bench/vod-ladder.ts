/**
 * VOD ladder benchmark: a 60 s 1080p30 source with real motion, transcoded to the same
 * 1080/720/480/360 ladder three ways in one run:
 *   (a) the best single hand-written ffmpeg command (one decode, split, all rungs, fMP4 HLS);
 *   (b) one ffmpeg per rung, one after another (how PeerTube transcodes a ladder);
 *   onair: upload through the API until the asset is `ready` (probe, queue, ladder, poster,
 *          thumbnails, storyboard, publish included).
 * Reproduce: npm run bench -- vod-ladder   (BENCH_SECONDS=60 by default)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OnairClient } from '../../src/cli/api-client.ts';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/main.ts';
import { BENCH_BACKENDS, startBackend, type BenchBackend } from './backends.ts';
import { makeSource } from '../helpers/media.ts';
import { dirBytes, measure, runCommand, table } from './measure.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const PRESET = process.env.X264_PRESET ?? 'veryfast';
const SEGMENT_SECONDS = 2; // onair's default HLS_SEGMENT_SECONDS
const RUNGS = [
  { name: '1080p', w: 1920, h: 1080, maxrate: 4500, crf: 23 },
  { name: '720p', w: 1280, h: 720, maxrate: 2500, crf: 23 },
  { name: '480p', w: 854, h: 480, maxrate: 1200, crf: 24 },
  { name: '360p', w: 640, h: 360, maxrate: 700, crf: 25 },
];
const X264 = 'keyint=60:min-keyint=60:scenecut=0:open-gop=0';

// Hand-written baselines, as an engineer would type them (tokens without spaces, split for brevity).
const words = (text: string) => text.trim().split(/\s+/);
const input = (src: string) => [...words('-hide_banner -loglevel error -y -i'), src];
const x264 = words(`-c:v libx264 -preset ${PRESET} -x264-params ${X264}`);
const audio = words('-c:a aac -b:a 128k -ac 2');
const hls = words(`-f hls -hls_time ${SEGMENT_SECONDS} -hls_playlist_type vod -hls_segment_type fmp4`);

function singleCommand(src: string, out: string): string[] {
  const graph =
    `[0:v]split=${RUNGS.length}${RUNGS.map((_, i) => `[s${i}]`).join('')};` +
    RUNGS.map((r, i) => `[s${i}]scale=${r.w}:${r.h}[v${i}]`).join(';');
  const caps = RUNGS.flatMap((r, i) =>
    words(`-crf:v:${i} ${r.crf} -maxrate:v:${i} ${r.maxrate}k -bufsize:v:${i} ${r.maxrate * 2}k`),
  );
  const streamMap = [...RUNGS.map((r, i) => `v:${i},agroup:aud,name:${r.name}`), 'a:0,agroup:aud,name:audio'];
  return [
    ...input(src),
    ...['-filter_complex', graph],
    ...RUNGS.flatMap((_, i) => ['-map', `[v${i}]`]),
    ...words('-map 0:a:0'),
    ...x264,
    ...caps,
    ...audio,
    ...hls,
    ...words(`-master_pl_name master.m3u8 -hls_segment_filename ${out}/%v/seg_%05d.m4s`),
    ...['-var_stream_map', streamMap.join(' ')],
    `${out}/%v/index.m3u8`,
  ];
}

function perRungCommand(src: string, out: string, r: (typeof RUNGS)[number]): string[] {
  return [
    ...input(src),
    ...words(`-vf scale=${r.w}:${r.h}`),
    ...x264,
    ...words(`-crf ${r.crf} -maxrate ${r.maxrate}k -bufsize ${r.maxrate * 2}k`),
    ...audio,
    ...hls,
    ...words(`-hls_segment_filename ${out}/${r.name}/seg_%05d.m4s ${out}/${r.name}/index.m3u8`),
  ];
}

/** One upload -> ready through a real onair on `backend`; wall/CPU measured around it. */
async function onairRun(src: string, dataDir: string, backend: BenchBackend) {
  const store = await startBackend(backend);
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    X264_PRESET: PRESET,
    REDIS_URL: '',
    ...store.env,
  };
  const server = await startServer(loadConfig(env), env);
  try {
    await new Promise((r) => setTimeout(r, 1500)); // let the worker process come up, as in steady state
    const client = new OnairClient(server.url, server.generatedApiKey!);
    let uploadedAt = 0;
    let firstPlayable = Number.NaN;
    const o = await measure(async () => {
      const asset = await client.upload(src, 'bench');
      uploadedAt = performance.now();
      for (;;) {
        const a = await client.getAsset(asset.id);
        if (Number.isNaN(firstPlayable) && a.playback)
          firstPlayable = (performance.now() - uploadedAt) / 1000;
        if (a.status === 'ready' || a.status === 'failed') return a;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    if (o.result.status !== 'ready') throw new Error(`onair (${backend}) failed: ${o.result.error}`);
    return { ...o, firstPlayable };
  } finally {
    await server.close();
    await store.stop();
  }
}

export async function run(): Promise<void> {
  const cacheDir = path.resolve('data/bench');
  fs.mkdirSync(cacheDir, { recursive: true });
  const src = path.join(cacheDir, `mandelbrot-noise-1080p30-${SECONDS}s.mp4`);
  if (!fs.existsSync(src)) {
    console.log(`making the ${SECONDS} s 1080p30 source (mandelbrot zoom + temporal noise)...`);
    await makeSource(src, { width: 1920, height: 1080, seconds: SECONDS, heavy: true });
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-bench-'));
  try {
    console.log('(a) single hand-written ffmpeg command...');
    const aDir = path.join(work, 'a');
    const a = await measure(() => runCommand('ffmpeg', singleCommand(src, aDir)));

    console.log('(b) one ffmpeg per rung, sequential...');
    const bDir = path.join(work, 'b');
    for (const r of RUNGS) fs.mkdirSync(path.join(bDir, r.name), { recursive: true });
    const b = await measure(async () => {
      for (const r of RUNGS) await runCommand('ffmpeg', perRungCommand(src, bDir, r));
    });

    // onair, on each backend in turn: the same source, the same machine, one run.
    const runs: { backend: BenchBackend; o: Awaited<ReturnType<typeof onairRun>> }[] = [];
    for (const backend of BENCH_BACKENDS) {
      console.log(`onair (${backend}): upload -> ready...`);
      runs.push({ backend, o: await onairRun(src, path.join(work, `onair-${backend}`), backend) });
    }
    const o = runs[0]!.o;
    const speed = (wall: number) => `${(SECONDS / wall).toFixed(2)}x`;
    console.log(
      `\nVOD ladder, ${SECONDS} s 1080p30 source, x264 ${PRESET}, 2-s GOP, 2-s fMP4 segments, ${os.cpus().length} cores\n`,
    );
    console.log(
      table([
        {
          run: '(a) single ffmpeg',
          wall_s: a.wallSeconds.toFixed(1),
          cpu_s: a.cpuSeconds.toFixed(1),
          speed: speed(a.wallSeconds),
        },
        {
          run: '(b) ffmpeg per rung',
          wall_s: b.wallSeconds.toFixed(1),
          cpu_s: b.cpuSeconds.toFixed(1),
          speed: speed(b.wallSeconds),
        },
        ...runs.map(({ backend, o: r }) => ({
          run: `onair upload->ready, ${backend}`,
          wall_s: r.wallSeconds.toFixed(1),
          cpu_s: r.cpuSeconds.toFixed(1),
          speed: speed(r.wallSeconds),
        })),
      ]),
    );
    for (const { backend, o: r } of runs) {
      console.log(`\n${backend}:`);
      console.log(`  onair / (a) wall: ${(r.wallSeconds / a.wallSeconds).toFixed(3)}   (target <= 1.10)`);
      console.log(`  (b) / onair wall: ${(b.wallSeconds / r.wallSeconds).toFixed(3)}   (target >= 1.3)`);
      console.log(`  onair / (a) cpu:  ${(r.cpuSeconds / a.cpuSeconds).toFixed(3)}`);
      console.log(`  first playable after upload: ${r.firstPlayable.toFixed(1)} s   (target <= 10 s)`);
    }
    const [local, scaled] = runs.map((r) => r.o.wallSeconds / a.wallSeconds);
    console.log(
      `\nupload->ready ratio to (a), postgres+s3 vs sqlite+local: ${(((scaled! - local!) / local!) * 100).toFixed(1)} %   (target within 5 %)`,
    );
    console.log('\nbytes per rung:');
    console.log(
      table(
        [...RUNGS.map((r) => r.name), 'audio'].map((name) => ({
          rung: name,
          onair: o.result.renditions.find((x) => x.name === name)?.bytes ?? '-',
          '(a)': fs.existsSync(path.join(aDir, name))
            ? dirBytes(path.join(aDir, name), (f) => f.endsWith('.m4s'))
            : '-',
          '(b) incl. audio': fs.existsSync(path.join(bDir, name))
            ? dirBytes(path.join(bDir, name), (f) => f.endsWith('.m4s'))
            : '-',
        })),
      ),
    );
    console.log('\nreproduce: npm run bench -- vod-ladder');
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
