import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
import fs from 'node:fs';

/** Busy CPU seconds of the whole machine so far (all processes: server, workers, ffmpeg, redis). */
export function machineCpuSeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

export interface Measured<T> {
  wallSeconds: number;
  cpuSeconds: number;
  result: T;
}

export async function measure<T>(work: () => Promise<T>): Promise<Measured<T>> {
  const cpu0 = machineCpuSeconds();
  const t0 = performance.now();
  const result = await work();
  return { wallSeconds: (performance.now() - t0) / 1000, cpuSeconds: machineCpuSeconds() - cpu0, result };
}

export function runCommand(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${bin} exited ${code}: ${stderr}`)),
    );
  });
}

export function dirBytes(dir: string, filter: (file: string) => boolean = () => true): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && filter(entry.name)) total += fs.statSync(`${entry.parentPath}/${entry.name}`).size;
  }
  return total;
}

export function table(rows: Record<string, string | number>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [
    line(keys),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(keys.map((k) => String(r[k])))),
  ].join('\n');
}

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
}

function toMs(text: string): number {
  const match = /([\d.]+)(us|ms|s)/.exec(text);
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

/**
 * Debian's wrk: requests/s, p50/p99 latency, errors (socket errors plus non-2xx answers). Async on
 * purpose: a server under test may live in this very process (cluster primary included).
 */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  script?: { file: string; args: string[] },
): Promise<WrkResult> {
  const { stdout: out } = await execFileAsync(
    'wrk',
    [
      ...['-t2', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s'],
      ...(script ? ['-s', script.file, url, '--', ...script.args] : [url]),
    ],
    { encoding: 'utf8' },
  );
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    p99ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ''),
    errors: (errors ? errors.slice(1).reduce((t, n) => t + Number(n), 0) : 0) + Number(non2xx?.[1] ?? 0),
  };
}
