/**
 * The nginx edge (infra/nginx/run-edge.sh) in front of one onair origin, for benchmarks: started on
 * a free port with an access log, and that log tallied by what passed through it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/net/free-ports.ts';
import { until } from '../helpers/api.ts';
import { findNginx } from '../helpers/nginx.ts';
import { parseEdgeLogLine } from './viewers/edge-log.ts';

export { freePort };

const root = path.resolve(import.meta.dirname, '../..');

export function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the edge cannot run here, or undefined when it can. */
export function edgeMissing(): string | undefined {
  if (!findNginx()) return 'nginx is not installed (apt-get install nginx-light)';
  if (!fs.existsSync(path.join(root, 'infra/nginx/run-edge.sh')))
    return 'infra/nginx/run-edge.sh does not exist';
  return undefined;
}

export async function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Edge {
  readonly port: number;
  /** run-edge.sh execs nginx: this is the nginx master. */
  readonly child: ChildProcess;
  /** Its access log (infra/nginx/onair-edge.conf `onair_edge` format). */
  readonly log: string;
  stop(): Promise<void>;
}

/**
 * infra/nginx/run-edge.sh in front of the origin on `originPort`, with an access log in `work`;
 * resolves once it serves `masterPath` (a signed master playlist path: proves the key is right).
 */
export async function startEdge(
  work: string,
  originPort: number,
  key: string,
  masterPath: string,
): Promise<Edge> {
  const port = await freePort();
  const log = path.join(work, 'edge-access.log');
  const child = spawn(
    path.join(root, 'infra/nginx/run-edge.sh'),
    [
      ...['--port', String(port), '--origin', `127.0.0.1:${originPort}`],
      ...['--dir', path.join(work, 'edge'), '--access-log', log, '--workers', 'auto'],
    ],
    {
      env: { ...process.env, ONAIR_NGINX: findNginx(), ONAIR_EDGE_KEY: key },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await until(
      'the edge to accept connections',
      async () => {
        if (child.exitCode !== null) throw new Error(`run-edge.sh exited with ${child.exitCode}`);
        return portAccepts(port);
      },
      20_000,
    );
    const probe = await fetch(`http://127.0.0.1:${port}${masterPath}`);
    if (probe.status !== 200) throw new Error(`the edge answered ${probe.status} for the master playlist`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, child, log, stop };
}

/** What went through the edge, by kind of file; `held`: playlist answers that took 0.1 s or more. */
export interface EdgeTally {
  playlists: number;
  held: number;
  parts: number;
  segments: number;
  inits: number;
  /** Pages, API calls: anything not under /s/. */
  other: number;
  /** Answers with status 400 or more, by status. */
  errors: Record<string, number>;
}

/**
 * Tallies the access log. It logs the path without the query, so blocking playlist reloads
 * (`?_HLS_msn=`) show as playlist answers the edge held: those that took 0.1 s or more.
 */
export function tallyEdgeLog(file: string): EdgeTally {
  const tally: EdgeTally = { playlists: 0, held: 0, parts: 0, segments: 0, inits: 0, other: 0, errors: {} };
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '';
  for (const raw of text.split('\n')) {
    const line = parseEdgeLogLine(raw);
    if (!line) continue;
    const name = line.path.slice(line.path.lastIndexOf('/') + 1);
    if (!line.path.startsWith('/s/')) tally.other += 1;
    else if (name.endsWith('.m3u8')) {
      tally.playlists += 1;
      if (Number(raw.split('\t')[4]) >= 0.1) tally.held += 1;
    } else if (name.startsWith('part_')) tally.parts += 1;
    else if (name.endsWith('.m4s')) tally.segments += 1;
    else tally.inits += 1;
    if (line.status >= 400) tally.errors[line.status] = (tally.errors[line.status] ?? 0) + 1;
  }
  return tally;
}
