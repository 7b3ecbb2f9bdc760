import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface EmbeddedRedis {
  readonly url: string;
  stop(): Promise<void>;
}

const REDIS_WATCHDOG =
  'exec 3<&0; bin="$1"; shift; "$bin" "$@" </dev/null & pid=$!; (read _ <&3; kill $pid 2>/dev/null) & wait $pid';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Stops a redis-server a previous run left behind (killed with SIGKILL, say), found by its pidfile. */
function reapStale(pidFile: string): void {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('redis-server')) process.kill(pid, 'SIGTERM');
  } catch {
    // No pidfile or no such process: nothing to reap.
  }
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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
 * Starts a private redis-server on a free loopback port with its files under `dir`, for the
 * one-machine default (REDIS_URL unset). The append-only file keeps queued jobs across restarts.
 */
export async function startEmbeddedRedis(opts: {
  dir: string;
  binary?: string;
  persist?: boolean;
}): Promise<EmbeddedRedis> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const pidFile = path.join(opts.dir, 'redis.pid');
  reapStale(pidFile);
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    opts.dir,
    '--pidfile',
    pidFile,
    '--save',
    '',
    '--appendonly',
    opts.persist === false ? 'no' : 'yes',
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
  ];
  // A tiny sh watchdog owns redis-server: it kills it as soon as our stdin pipe closes, which also
  // happens when this process dies by SIGKILL. So no redis-server outlives onair.
  const child = spawn('sh', ['-c', REDIS_WATCHDOG, 'onair-redis', opts.binary ?? 'redis-server', ...args], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([waitForPing(url, child, 10_000), spawnError]);
  let stopped: Promise<void> | undefined;
  return {
    url,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin.end();
        setTimeout(() => reapStale(pidFile), 5_000).unref();
      });
      return stopped;
    },
  };
}
