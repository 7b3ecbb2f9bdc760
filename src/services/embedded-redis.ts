import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { freePort } from '../net/free-ports.ts';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/local-storage.ts';

export interface EmbeddedRedis {
  /** Carries the password: hand it to clients (REDIS_URL), never to a log. */
  readonly url: string;
  readonly port: number;
  /** The redis-server now running (undefined while it is being restarted). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/**
 * A tiny sh watchdog owns redis-server. Our stdin (a pipe) is its lifeline: when it closes, which
 * also happens when onair dies by SIGKILL, redis-server is stopped, so none outlives onair. Fd 3 is
 * a second pipe carrying redis-server's configuration (`redis-server -` reads it from stdin), so
 * the password is never on a command line (`ps` shows those to every user) nor in a file. The
 * umask makes what redis-server writes (the AOF) 0600 in a 0700 folder.
 */
const REDIS_WATCHDOG = [
  'umask 077',
  'exec 4<&0',
  '"$1" - <&3 3<&- 4<&- &',
  'pid=$!',
  'exec 3<&-',
  '(read _ <&4; kill $pid 2>/dev/null) &',
  'lifeline=$!',
  'exec 4<&-',
  // (Without 2>/dev/null, sh reports a SIGKILLed redis-server on stderr as "Killed".)
  'wait $pid 2>/dev/null',
  'code=$?',
  'kill $lifeline 2>/dev/null',
  'exit $code',
].join('\n');

/**
 * Restarts back off from this, doubling while redis-server keeps dying within `QUICK_EXIT_MS`.
 * A second rather than less: /healthz time-boxes its ping to half that, so a probe sent just
 * after the crash still reports it.
 */
const RESTART_BASE_MS = 1000;
const RESTART_MAX_MS = 30_000;
const QUICK_EXIT_MS = 10_000;
/** Loading a large AOF takes a while; redis answers LOADING meanwhile. */
const START_TIMEOUT_MS = 30_000;

/** Stops a redis-server a previous run left behind (its watchdog killed with SIGKILL, say), found by its pidfile. */
function reapStale(pidFile: string): void {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('redis-server')) process.kill(pid, 'SIGTERM');
  } catch {
    // No pidfile or no such process: nothing to reap.
  }
}

/** Files an older onair left readable by others (0644 AOF in a 0755 folder): narrowed in place. */
function narrowModes(dir: string): void {
  ensurePrivateDir(dir);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const mode = entry.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((fs.statSync(file).mode & 0o777) !== mode) fs.chmodSync(file, mode);
  }
}

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    // Refused, or LOADING while it reads the AOF: not up yet, asked again below.
    client.on('error', () => undefined);
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not answer within the start-up time');
}

/**
 * The AOF is a log: what was deleted from Redis stays in it until a rewrite, which Redis starts by
 * itself only once the log has doubled past `auto-aof-rewrite-min-size`. A rewrite at each start
 * keeps it to the live data (and drops what an older onair wrote there: pull URLs with stream keys).
 */
async function compactAof(url: string, log: Logger): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // the command below rejects with the same error
  try {
    await client.connect();
    await client.bgrewriteaof();
  } catch (err) {
    log.warn('embedded redis: AOF rewrite not started', { err: String(err) });
  } finally {
    client.disconnect();
  }
}

/** redis.conf syntax: double-quoted, backslash escapes. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/**
 * Starts a private redis-server on a free loopback port with its files under `dir`, for the
 * one-machine default (REDIS_URL unset), and keeps it running: if it dies (OOM killer, a stray
 * SIGKILL), it is started again with the same port, password and files, with a backoff, as the
 * worker processes are. Its clients reconnect by themselves.
 *
 * The password is generated per start of onair and reaches the other roles through REDIS_URL in
 * their environment (readable by the same user only). The append-only file keeps queued and
 * delayed jobs (reminder mails) across restarts, with `appendfsync always`: Redis writes the AOF
 * before it answers, so a killed redis-server alone loses nothing with any fsync policy, but a
 * power cut loses what was not yet fsynced, up to a second with `everysec` -- jobs the API had
 * already confirmed (a registration's reminders). This Redis serves one machine's queues (tens of
 * writes a second, batched into one fsync per event-loop turn), so the cost is small.
 */
export async function startEmbeddedRedis(opts: {
  dir: string;
  binary?: string;
  persist?: boolean;
  log: Logger;
}): Promise<EmbeddedRedis> {
  narrowModes(opts.dir);
  const pidFile = path.join(opts.dir, 'redis.pid');
  reapStale(pidFile);
  const port = await freePort();
  const password = crypto.randomBytes(32).toString('hex');
  const url = `redis://:${password}@127.0.0.1:${port}`;
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    `requirepass ${password}`,
    `dir ${quote(opts.dir)}`,
    `pidfile ${quote(pidFile)}`,
    'save ""',
    `appendonly ${opts.persist === false ? 'no' : 'yes'}`,
    'appendfsync always',
    // Rewrites (which drop deleted data from the AOF) from 4 MB of log on, not Redis's 64 MB.
    'auto-aof-rewrite-min-size 4mb',
    'daemonize no',
    'logfile ""',
    'loglevel warning',
  ].join('\n');
  const log = opts.log.child({ redisPort: port });

  async function launch(): Promise<ChildProcess> {
    const child = spawn('sh', ['-c', REDIS_WATCHDOG, 'onair-redis', opts.binary ?? 'redis-server'], {
      stdio: ['pipe', 'ignore', 'inherit', 'pipe'],
    });
    // EPIPE here means the watchdog is already gone; its exit is what gets reported.
    child.stdin!.on('error', () => undefined);
    const configPipe = child.stdio[3] as Writable;
    configPipe.on('error', () => undefined);
    configPipe.end(config + '\n');
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    try {
      await Promise.race([waitForPing(url, child, START_TIMEOUT_MS), spawnError]);
      if (opts.persist !== false) await compactAof(url, log);
      return child;
    } catch (err) {
      child.stdin!.end();
      child.kill('SIGKILL');
      throw err;
    }
  }

  let current: ChildProcess | undefined = await launch();
  let currentPid = readPid(pidFile);
  let stopping = false;
  let crashes = 0;
  let startedAt = Date.now();
  let retry: NodeJS.Timeout | undefined;
  let relaunching: Promise<void> | undefined;

  const supervise = (child: ChildProcess) => {
    child.once('exit', (code, signal) => {
      if (stopping || child !== current) return;
      current = undefined;
      currentPid = undefined;
      crashes = Date.now() - startedAt < QUICK_EXIT_MS ? crashes + 1 : 0;
      const outageAt = Date.now();
      const delay = () => Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** crashes);
      log.warn('embedded redis exited; restarting it', { code, signal, inMs: delay() });
      const attempt = () => {
        relaunching = launch().then(
          (next) => {
            current = next;
            // stop() was called meanwhile: it stops this one.
            if (stopping) return;
            currentPid = readPid(pidFile);
            startedAt = Date.now();
            supervise(next);
            log.warn('embedded redis restarted', { downMs: Date.now() - outageAt });
          },
          (err: unknown) => {
            if (stopping) return;
            crashes++;
            log.warn('embedded redis did not start; trying again', { err: String(err), inMs: delay() });
            retry = setTimeout(attempt, delay());
          },
        );
      };
      retry = setTimeout(attempt, delay());
    });
  };
  supervise(current);

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    pid: () => currentPid,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearTimeout(retry);
        await relaunching;
        const child = current;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.stdin!.end();
          setTimeout(() => reapStale(pidFile), 5_000).unref();
        });
      })();
      return stopped;
    },
  };
}
