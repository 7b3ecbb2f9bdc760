/**
 * Origin benchmark: onair's HLS origin against nginx (Debian) serving the very same files, side by
 * side in one run, with wrk: requests/s and p50/p99 latency for a 720p media segment and for a
 * media playlist, at 200 and 1,000 connections. onair is measured through its signed URLs (token
 * check, scope lookup, revision check included); nginx serves the folder as plain static files.
 * Needs Debian's wrk and nginx (apt-get install wrk nginx-light).
 * Reproduce: npm run bench -- origin   (BENCH_DURATION=10 s per run, BENCH_HTTP_PROCESSES=cores by default)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { freePort } from '../../src/net/free-ports.ts';
import { makeSource } from '../helpers/media.ts';
import { table, wrk } from './measure.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
/** onair's HTTP processes for the run (HTTP_PROCESSES): one per core is the large-event setting. */
const HTTP_PROCESSES = process.env.BENCH_HTTP_PROCESSES ?? String(os.cpus().length);
const root = path.resolve(import.meta.dirname, '../..');

async function waitForLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const match = pattern.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/** An nginx of our own (foreground, files under `work`) with `http` holding the given directives. */
function startNginx(work: string, name: string, http: string): ChildProcess {
  const conf = path.join(work, `${name}.conf`);
  const t = path.join(work, `${name}-tmp`);
  fs.writeFileSync(
    conf,
    `user root;
worker_processes auto;
pid ${work}/${name}.pid;
error_log ${work}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path ${t}b; proxy_temp_path ${t}p; fastcgi_temp_path ${t}f; uwsgi_temp_path ${t}u; scgi_temp_path ${t}s;
  ${http}
}
`,
  );
  return spawn('nginx', ['-c', conf, '-g', 'daemon off;'], { stdio: 'inherit' });
}

export async function run(): Promise<void> {
  for (const tool of ['wrk', 'nginx']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`]);
    } catch {
      console.log(`skipped: ${tool} is not installed (apt-get install wrk nginx-light)`);
      return;
    }
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-origin-bench-'));
  const children: ChildProcess[] = [];
  try {
    const src = await makeSource(path.join(work, 'talk.mp4'), { width: 1280, height: 720, seconds: 20 });
    const port = await freePort();
    const dataDir = path.join(work, 'data');
    const onair = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        HTTP_PROCESSES,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(onair);
    const key = await waitForLine(onair, /^\s+(onair_\S+)$/m);
    const client = new OnairClient(`http://127.0.0.1:${port}`, key);
    const asset = await client.waitForAsset((await client.upload(src, 'bench')).id, undefined, 200);
    if (asset.status !== 'ready') throw new Error(`asset failed: ${asset.error}`);
    const created = await fetch(`${client.baseUrl}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'bench', type: 'on_demand', assetId: asset.id }),
    });
    const { webinarId } = (await created.json()) as { webinarId: string };
    const info = (await (
      await fetch(`${client.baseUrl}/w/${webinarId.replace(/-/g, '')}/info.json`)
    ).json()) as {
      playback: { master: string };
    };
    const master = info.playback.master;
    const base = master.slice(0, master.lastIndexOf('/') + 1);
    const variant = parseMasterPlaylist(await (await fetch(master)).text()).variants.find(
      (v) => v.resolution?.height === 720,
    )!.uri;
    const playlist = parseMediaPlaylist(await (await fetch(base + variant)).text());
    const segmentRel = `${path.posix.dirname(variant)}/${playlist.segments[1]!.uri}`;
    const revisionDir = path.join(dataDir, 'media', 'assets', asset.id, master.split('/').at(-2)!);
    const segmentBytes = fs.statSync(path.join(revisionDir, segmentRel)).size;

    // nginx serving the same folder, tuned as one would for static HLS.
    const nginxPort = await freePort();
    children.push(
      startNginx(
        work,
        'static',
        `open_file_cache max=1000 inactive=60s;
  types { application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; video/mp4 mp4; }
  server { listen 127.0.0.1:${nginxPort} backlog=4096; root ${revisionDir}; }`,
      ),
    );

    // onair behind its own edge (infra/nginx/run-edge.sh): token checked by nginx's
    // secure_link, cache keyed without the token. This is how a large event is meant to be served.
    const edgePort = await freePort();
    const secret = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
    children.push(
      spawn(
        path.join(root, 'infra/nginx/run-edge.sh'),
        [
          '--port',
          `127.0.0.1:${edgePort}`,
          '--origin',
          `127.0.0.1:${port}`,
          '--dir',
          path.join(work, 'edge'),
        ],
        { env: { ...process.env, ONAIR_EDGE_KEY: playbackKey(secret) }, stdio: 'inherit' },
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    const viaEdge = (url: string) => url.replace(client.baseUrl, `http://127.0.0.1:${edgePort}`);
    // The edge refuses a bad token by itself.
    const forged = viaEdge(base + variant).replace(/\/s\/[^/]+\//, `/s/${'A'.repeat(22)}/`);
    if ((await fetch(forged)).status !== 403) throw new Error('edge accepted a forged token');

    const targets = {
      segment: {
        nginx: `http://127.0.0.1:${nginxPort}/${segmentRel}`,
        onair: base + segmentRel,
        'onair+edge': viaEdge(base + segmentRel),
      },
      playlist: {
        nginx: `http://127.0.0.1:${nginxPort}/${variant}`,
        onair: base + variant,
        'onair+edge': viaEdge(base + variant),
      },
    };
    const rows: Record<string, string | number>[] = [];
    const ratios: string[] = [];
    for (const [what, urls] of Object.entries(targets)) {
      for (const connections of [200, 1000]) {
        const n = await wrk(urls.nginx, connections, DURATION);
        const o = await wrk(urls.onair, connections, DURATION);
        const e = await wrk(urls['onair+edge'], connections, DURATION);
        for (const [server, r] of [
          ['nginx', n],
          ['onair', o],
          ['onair+edge', e],
        ] as const) {
          rows.push({
            target: what,
            conns: connections,
            server,
            'req/s': Math.round(r.rps),
            p50_ms: r.p50ms.toFixed(1),
            p99_ms: r.p99ms.toFixed(1),
            errors: r.errors,
          });
        }
        ratios.push(
          `${what} @${connections}: onair/nginx = ${(o.rps / n.rps).toFixed(2)}, onair+edge/nginx = ${(e.rps / n.rps).toFixed(2)}`,
        );
      }
    }
    console.log(
      `\nOrigin, ${os.cpus().length} cores, onair HTTP_PROCESSES=${HTTP_PROCESSES}, wrk -t2 ${DURATION}s per run; 720p segment ${segmentBytes} bytes; playlist ${playlist.segments.length} segments\n`,
    );
    console.log(table(rows));
    console.log('');
    for (const r of ratios) console.log(r);
    console.log('targets: segments >= 0.8x nginx with p99 < 1 s at 1,000 connections; playlists >= 0.75x');
    console.log('\nreproduce: npm run bench -- origin');
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    fs.rmSync(work, { recursive: true, force: true });
  }
}
