/**
 * Requests that reached the origin through the nginx edge, from the edge's access log
 * (infra/nginx/onair-edge.conf `onair_edge` format, tab-separated: msec, status, cache status,
 * bytes, request time, method, path, upstream address, upstream time).
 *
 * Counted as an origin request: MISS, EXPIRED, BYPASS, REVALIDATED, and STALE (with
 * proxy_cache_background_update, STALE marks the one request that started a background refresh;
 * the refresh itself is a subrequest nginx does not log); a line without a cache status ("-") that
 * still names an upstream (not cached at all). Not counted: HIT, and UPDATING (served from cache
 * while another request's refresh is in flight: counting those would count one refresh many times).
 */
import fs from 'node:fs';
import readline from 'node:readline';

export interface EdgeLogLine {
  readonly msec: number;
  readonly status: number;
  readonly cache: string;
  readonly path: string;
  readonly upstream: string;
}

export function parseEdgeLogLine(line: string): EdgeLogLine | undefined {
  const f = line.split('\t');
  if (f.length < 8) return undefined;
  const msec = Number(f[0]);
  if (!Number.isFinite(msec)) return undefined;
  return { msec: msec * 1000, status: Number(f[1]), cache: f[2]!, path: f[6]!, upstream: f[7]! };
}

const FROM_ORIGIN = new Set(['MISS', 'EXPIRED', 'BYPASS', 'REVALIDATED', 'STALE']);

export function reachedOrigin(line: EdgeLogLine): boolean {
  return FROM_ORIGIN.has(line.cache) || (line.cache === '-' && line.upstream !== '-' && line.upstream !== '');
}

/**
 * The rung of a playback path: the folder right below the revision
 * (`/s/<hash>/<expires>/<scope>/<id>/<revision>/<rung>/...`), `master` for the master playlist.
 */
export function rungOfPath(path: string): string {
  const parts = path.split('?')[0]!.split('/');
  return parts.length > 8 ? parts[7]! : 'master';
}

export interface OriginRequests {
  segments: number;
  playlists: number;
  other: number;
}

/**
 * Origin requests per rung among the log lines from byte `offset` on whose time falls within
 * [fromMs, toMs) (epoch ms). Streams the file: at 10,000 viewers a run logs about a million lines.
 */
export async function countOriginRequests(
  file: string,
  offset: number,
  fromMs: number,
  toMs: number,
): Promise<{ lines: number; rungs: Record<string, OriginRequests> }> {
  const rungs: Record<string, OriginRequests> = {};
  let lines = 0;
  const input = fs.createReadStream(file, { start: offset, encoding: 'latin1' });
  for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
    const line = parseEdgeLogLine(text);
    if (!line || line.msec < fromMs || line.msec >= toMs) continue;
    lines += 1;
    if (!reachedOrigin(line)) continue;
    const r = (rungs[rungOfPath(line.path)] ??= { segments: 0, playlists: 0, other: 0 });
    if (line.path.endsWith('.m4s')) r.segments += 1;
    else if (line.path.endsWith('.m3u8')) r.playlists += 1;
    else r.other += 1;
  }
  return { lines, rungs };
}
