import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { testDatabaseUrl } from './database.ts';
import { databaseEnv, testEnv } from './server.ts';

const root = path.resolve(import.meta.dirname, '../..');

export interface OnairProcess {
  readonly pid: number;
  readonly url: string;
  readonly rtmpUrl: string;
  /** Generated on first start only (written to DATA_DIR/first-api-key: stdout is not a terminal). */
  readonly apiKey: string;
  /** PostgreSQL when ONAIR_TEST_DATABASE=postgres; undefined: SQLite in DATA_DIR. */
  readonly databaseUrl: string | undefined;
  /** Its whole environment (DATA_DIR, DATABASE_URL, S3_*), for `serverStorage`/`serverDatabase`. */
  readonly env: NodeJS.ProcessEnv;
  /** Everything it and its children (workers, ingest, redis) wrote to stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * The database of the onair that uses `dataDir`: with ONAIR_TEST_DATABASE=postgres, one fresh
 * PostgreSQL database per DATA_DIR, kept across restarts on the same DATA_DIR (what a restarted
 * server finds is its own data) until `dropTestDatabase(dataDir)` or the end of the test process.
 */
const databases = new Map<string, { url: string | undefined; drop(): void; env?: Record<string, string> }>();

/** The database of `dataDir`, and (for PostgreSQL) the one secret all its starts share. */
function databaseFor(dataDir: string, env: Record<string, string>): Record<string, string> {
  const key = path.resolve(dataDir);
  let database = databases.get(key);
  if (!database) {
    database = testDatabaseUrl();
    databases.set(key, database);
  }
  database.env ??= databaseEnv(database, env);
  return database.env;
}

/** Drops the PostgreSQL database of `dataDir`'s onair, if it has one (stop the process first). */
export function dropTestDatabase(dataDir: string): void {
  const key = path.resolve(dataDir);
  databases.get(key)?.drop();
  databases.delete(key);
}

/**
 * `npm start`'s entry point as its own process, as a user runs it (its own umask, its own
 * embedded redis-server, forked workers and ingest), on free ports; resolves once it is up.
 */
export async function startOnair(dataDir: string, env: Record<string, string> = {}): Promise<OnairProcess> {
  const databaseVars = databaseFor(dataDir, env);
  const fullEnv = testEnv(dataDir, { ...databaseVars, ...env });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/presenters stream to (\S+)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`onair did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    url: /onair is up at (\S+)/.exec(output)![1]!,
    rtmpUrl: /presenters stream to (\S+)/.exec(output)![1]!,
    apiKey: firstApiKey(dataDir),
    databaseUrl: fullEnv.DATABASE_URL || undefined,
    env: fullEnv,
    output: () => output,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

function firstApiKey(dataDir: string): string {
  try {
    return fs.readFileSync(path.join(dataDir, 'first-api-key'), 'utf8').trim();
  } catch {
    return '';
  }
}

/** Direct children of `pid` with their command lines (from /proc). */
export function childProcesses(pid: number): { pid: number; cmdline: string }[] {
  const children: { pid: number; cmdline: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the parenthesised command: state, then the parent's pid.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      children.push({ pid: Number(name), cmdline });
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

/** One of the process's environment variables (readable by the same user only, like its files). */
export function environOf(pid: number, name: string): string | undefined {
  const entry = fs
    .readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}
