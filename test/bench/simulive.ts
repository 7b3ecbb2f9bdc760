/**
 * Simulive benchmark: 1,000 concurrent sessions of one automated webinar, each at its own point of
 * the recording, against the same origin serving the recording's static (cached) VOD playlist, in
 * the same run. wrk cycles through the 1,000 session playlist URLs (one per session, top rung),
 * then hammers the one VOD playlist; requests/s, p50/p99, and machine CPU per request. No ffmpeg
 * runs for an airing: the count of ffmpeg processes during the run is reported too.
 * Needs Debian's wrk.
 * Reproduce: npm run bench -- simulive   (BENCH_DURATION=10 s per run, BENCH_SESSIONS=1000,
 * BENCH_HTTP_PROCESSES=cores)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { sessionScopeId } from '../../src/automated/sessions.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer } from '../helpers/server.ts';
import { machineCpuSeconds, table, wrk } from './measure.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1000);
const HTTP_PROCESSES = process.env.BENCH_HTTP_PROCESSES ?? String(os.cpus().length);
const SECRET = 'bench-secret-simulive-0123456789abcdef';

const ROTATE_SCRIPT = `
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  counter = math.random(#paths)
end
request = function()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end
`;

/** ffmpeg processes running now (pgrep exits 1 when there are none). */
function ffmpegProcesses(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-x', 'ffmpeg'], { encoding: 'utf8' }).trim());
  } catch {
    return 0;
  }
}

export async function run(): Promise<void> {
  try {
    execFileSync('sh', ['-c', 'command -v wrk']);
  } catch {
    console.log('skipped: wrk is not installed (apt-get install wrk)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-simulive-bench-'));
  // Sessions start a second apart, so the recording must outlast them all.
  const seconds = Math.max(300, SESSIONS + 120);
  console.log(`making a ${seconds} s recording and its ladder...`);
  const source = await makeSource(path.join(work, 'webinar.mp4'), {
    width: 320,
    height: 180,
    seconds,
    fps: 15,
  });
  const server = await startTestServer({ ONAIR_SECRET: SECRET, HTTP_PROCESSES, LOG_LEVEL: 'error' });
  try {
    const asset = await server.client.waitForAsset(
      (await server.client.upload(source, 'webinar')).id,
      undefined,
      500,
    );
    if (asset.status !== 'ready') throw new Error(`asset ${asset.status}: ${asset.error}`);
    const revision = /\/(rev_[A-Za-z0-9]+)\//.exec(asset.playback!.master)![1]!;
    const response = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'Evergreen webinar',
        type: 'automated',
        assetId: asset.id,
        schedule: { kind: 'on_demand', timezone: 'UTC' },
        interactions: {
          ctas: [
            {
              id: 'buy',
              headline: 'Buy now',
              buttonLabel: 'Buy',
              url: 'https://example.com',
              start: 30,
              end: 90,
            },
          ],
        },
      }),
    });
    const event = (await response.json()) as { webinarId: string };
    const webinarId = event.webinarId.replace(/-/g, '');

    // The top rung's playlist path, from the master.
    const master = parseMasterPlaylist(await (await fetch(asset.playback!.master)).text());
    const rendition = master.variants[0]!.uri;
    const urls = new PlaybackUrls(playbackKey(SECRET), 6 * 3600);
    const expires = urls.expiresAt();
    const now = Date.now();
    const paths = Array.from({ length: SESSIONS }, (_, i) => {
      // One session started every second over the last SESSIONS seconds: all live, all at different points.
      const start = Math.floor(now / 1000) * 1000 - (i + 60) * 1000;
      return new URL(
        urls.url(server.url, 'e', sessionScopeId(webinarId, start), revision, rendition, expires),
      ).pathname;
    });
    const list = path.join(work, 'paths.txt');
    fs.writeFileSync(list, paths.join('\n') + '\n');
    const script = path.join(work, 'rotate.lua');
    fs.writeFileSync(script, ROTATE_SCRIPT);
    const vodUrl = new URL(rendition, asset.playback!.master).toString();
    const sample = await (await fetch(`${server.url}${paths[0]}`)).text();
    const vodText = await (await fetch(vodUrl)).text();
    if (!sample.includes('#EXT-X-DATERANGE') || sample.includes('#EXT-X-ENDLIST')) {
      throw new Error('session playlist is not a live playlist with interactions');
    }

    const rows: Record<string, string | number>[] = [];
    const results: Record<string, number> = {};
    for (const connections of [200, 1000]) {
      for (const [label, target, withScript] of [
        [`${SESSIONS} sessions (computed)`, `${server.url}${paths[0]}`, true],
        ['static VOD playlist (cached)', vodUrl, false],
      ] as const) {
        let ffmpegs = 0;
        const probe = setInterval(() => (ffmpegs = Math.max(ffmpegs, ffmpegProcesses())), 1000);
        const cpu0 = machineCpuSeconds();
        const r = await wrk(
          target,
          connections,
          DURATION,
          withScript ? { file: script, args: [list] } : undefined,
        );
        const cpu = machineCpuSeconds() - cpu0;
        clearInterval(probe);
        results[`${label}@${connections}`] = r.rps;
        rows.push({
          target: label,
          conns: connections,
          'req/s': Math.round(r.rps),
          'p50 ms': r.p50ms.toFixed(1),
          'p99 ms': r.p99ms.toFixed(1),
          errors: r.errors,
          'CPU µs/req': Math.round((cpu / (r.rps * DURATION)) * 1e6),
          ffmpeg: ffmpegs,
        });
      }
      const ratio =
        results[`${SESSIONS} sessions (computed)@${connections}`]! /
        results[`static VOD playlist (cached)@${connections}`]!;
      rows.push({
        target: `ratio sessions/static`,
        conns: connections,
        'req/s': ratio.toFixed(2),
        'p50 ms': '',
        'p99 ms': '',
        errors: '',
        'CPU µs/req': '',
        ffmpeg: '',
      });
    }
    console.log(
      `\nSimulive, ${os.cpus().length} cores, HTTP_PROCESSES=${HTTP_PROCESSES}, wrk -t2 ${DURATION}s per run (wrk on the same cores)`,
    );
    console.log(
      `session playlist: ${Buffer.byteLength(sample)} bytes (${parseMediaPlaylist(sample).segments.length} segments, live window + DATERANGE); static VOD playlist: ${Buffer.byteLength(vodText)} bytes (${parseMediaPlaylist(vodText).segments.length} segments)`,
    );
    console.log(table(rows));
    console.log('reproduce: npm run bench -- simulive');
  } finally {
    await server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
