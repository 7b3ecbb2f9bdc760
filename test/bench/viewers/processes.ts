/**
 * CPU of each process of a benchmark run from /proc (Linux): a snapshot of every process's
 * user+system ticks, and the difference between two snapshots grouped by role (onair's primary,
 * each HTTP process, workers, ingest, ffmpeg, redis, the nginx edge, the publisher, the simulator).
 * Also the limits a run with thousands of sockets runs into: open files and ephemeral ports.
 */
import fs from 'node:fs';
import { machineCpuSeconds } from '../measure.ts';

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every architecture we run. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  ticks: number;
}

export interface CpuSnapshot {
  at: number;
  machineSeconds: number;
  procs: Map<number, ProcStat>;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state ppid ... utime(14th field) stime(15th).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // exited meanwhile
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const procs = new Map<number, ProcStat>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(name);
    if (stat) procs.set(Number(name), stat);
  }
  return { at: performance.now(), machineSeconds: machineCpuSeconds(), procs };
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** `root` and all its descendants in `snapshot`. */
function tree(snapshot: CpuSnapshot, root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, stat] of snapshot.procs) if (stat.ppid === out[i]) out.push(pid);
  }
  return out.filter((pid) => snapshot.procs.has(pid));
}

/** onair's processes by what they run. */
function onairRole(pid: number, root: number): string {
  if (pid === root) return 'onair';
  const cmd = cmdline(pid);
  if (cmd.includes('http-worker')) return 'http';
  if (cmd.includes('workers/main')) return 'workers';
  if (cmd.includes('ingest-main')) return 'ingest';
  if (cmd.includes('redis-server')) return 'redis';
  if (/(^|\/)ffmpeg /.test(cmd)) return 'ffmpeg';
  return 'other';
}

export interface CpuRoots {
  onair: number;
  /** run-edge.sh execs nginx: its pid is the nginx master's. */
  edge?: number | undefined;
  publisher?: number | undefined;
  /** This process: the simulator's threads (and the bench's own main thread). */
  simulator: number;
}

/** Percent of one core per role over the interval (summed), and each HTTP process and ffmpeg apart. */
export interface CpuUse {
  seconds: number;
  roles: Record<string, number>;
  http: number[];
  ffmpeg: number[];
  /** Busy CPU of the whole machine, percent of one core (200 = both cores of two). */
  machine: number;
}

export function cpuUse(before: CpuSnapshot, after: CpuSnapshot, roots: CpuRoots): CpuUse {
  const seconds = (after.at - before.at) / 1000;
  const percent = (pid: number) => {
    const a = after.procs.get(pid);
    const b = before.procs.get(pid);
    if (!a) return 0;
    return ((a.ticks - (b?.ticks ?? a.ticks)) / TICKS_PER_SECOND / seconds) * 100;
  };
  const roles: Record<string, number> = {};
  const add = (role: string, value: number) => (roles[role] = (roles[role] ?? 0) + value);
  const apart: Record<'http' | 'ffmpeg', number[]> = { http: [], ffmpeg: [] };
  for (const pid of tree(after, roots.onair)) {
    const role = onairRole(pid, roots.onair);
    if (role === 'http' || role === 'ffmpeg') apart[role].push(percent(pid));
    add(role, percent(pid));
  }
  if (roots.edge) for (const pid of tree(after, roots.edge)) add('nginx', percent(pid));
  if (roots.publisher) add('publisher', percent(roots.publisher));
  add('simulator', percent(roots.simulator));
  return {
    seconds,
    roles,
    ...apart,
    machine: ((after.machineSeconds - before.machineSeconds) / seconds) * 100,
  };
}

/** The soft limit on open files of this process (what its sockets count against). */
export function openFileLimit(): number {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\S+)/m.exec(limits);
  return match?.[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match?.[1] ?? 1024);
}

/** How many ephemeral ports a (source address, destination) pair can use. */
export function ephemeralPorts(): number {
  const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
  return Number(high) - Number(low) + 1;
}
