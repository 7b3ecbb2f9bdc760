import { spawn } from 'node:child_process';
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
