/**
 * What the route fuzzer needs around a real onair:
 *
 * - the server in a child process of its own, so a request that stalls its event loop cannot stall
 *   the test runner (the runner times the request out), and a stalled or crashed server can be
 *   killed with everything it started and restarted on the same data;
 * - raw HTTP requests: paths, query strings, headers and cookies exactly as written (fetch would
 *   normalise `..`, re-encode the path and refuse a `Host` header);
 * - a snapshot of what a request may have written: every SQLite table, every file under
 *   DATA_DIR/media.
 *
 * Run as a script (`ONAIR_FUZZ_CHILD=1 node --import tsx test/helpers/fuzz.ts`) it is that child:
 * it starts onair and prints one `ONAIR_FUZZ_READY <json>` line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import SqliteDatabase from 'better-sqlite3';

const READY = 'ONAIR_FUZZ_READY ';
/** USER_HZ of /proc/<pid>/stat times (100 on Linux). */
const CLOCK_TICKS = 100;

export interface FuzzServerInfo {
  readonly url: string;
  readonly apiKey: string;
  readonly dataDir: string;
}

export interface LogLine {
  readonly at: number;
  readonly text: string;
}

/** An onair in a child process; `restart()` kills it (and its redis and workers) and starts it again on the same data. */
export class FuzzServer {
  #child: ChildProcess | undefined;
  #info: FuzzServerInfo | undefined;
  /** Recent stderr lines (the server logs 500s there), for findings. */
  readonly #log: LogLine[] = [];
  restarts = 0;

  private constructor(private readonly env: Record<string, string>) {}

  static async start(env: Record<string, string>): Promise<FuzzServer> {
    const server = new FuzzServer(env);
    await server.#spawn(undefined);
    return server;
  }

  get url(): string {
    return this.#info!.url;
  }
  get apiKey(): string {
    return this.#info!.apiKey;
  }
  get dataDir(): string {
    return this.#info!.dataDir;
  }

  /** Lines the server wrote to stderr (warnings and errors) at or after `since` (ms). */
  logSince(since: number): string[] {
    return this.#log.filter((l) => l.at >= since).map((l) => l.text);
  }

  /**
   * CPU time (ms) the server process has used so far: the HTTP server runs on its main thread, so
   * what a request adds is what it cost the event loop, however loaded the machine is.
   */
  cpuMs(): number {
    const pid = this.#child?.pid;
    if (!pid) return 0;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      return 0;
    }
  }

  /** Whether the child has exited (a crash: out of memory, an uncaught exception). */
  get exited(): boolean {
    const child = this.#child;
    return !child || child.exitCode !== null || child.signalCode !== null;
  }

  async #spawn(dataDir: string | undefined): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename], {
      env: {
        ...process.env,
        ONAIR_FUZZ_CHILD: '1',
        ONAIR_FUZZ_ENV: JSON.stringify(this.env),
        ...(dataDir ? { ONAIR_FUZZ_DATA_DIR: dataDir, ONAIR_FUZZ_API_KEY: this.#info!.apiKey } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a stalled server is killed together with its redis and workers.
      detached: true,
    });
    this.#child = child;
    readline.createInterface({ input: child.stderr }).on('line', (text) => {
      this.#log.push({ at: Date.now(), text });
      if (this.#log.length > 2000) this.#log.splice(0, 1000);
    });
    this.#info = await new Promise<FuzzServerInfo>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fuzz server did not start within 60 s')), 60_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`the fuzz server exited with ${code} during start-up:\n${this.logSince(0).join('\n')}`),
        );
      });
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.startsWith(READY)) return;
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(READY.length)) as FuzzServerInfo);
      });
    });
  }

  #killGroup(): Promise<void> {
    const child = this.#child;
    if (!child?.pid || this.exited) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    return exited;
  }

  /** Kills the server (stalled or dead) and starts it again on the same DATA_DIR and API key. */
  async restart(): Promise<void> {
    const dataDir = this.dataDir;
    await this.#killGroup();
    this.restarts += 1;
    await this.#spawn(dataDir);
  }

  /** Stops the server and removes its data; kills it if it does not stop within 15 s. */
  async close(): Promise<void> {
    const child = this.#child;
    const dataDir = this.#info?.dataDir;
    if (child?.pid && !this.exited) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => void this.#killGroup(), 15_000);
      await exited;
      clearTimeout(timer);
      // Its redis-server and workers go with their parent; anything left in the group goes now.
      await this.#killGroup();
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- raw HTTP ----

export interface RawRequest {
  readonly method: string;
  /** The request target exactly as sent: path and query, already encoded (or deliberately not). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Buffer;
  /** Send the body with chunked transfer encoding (no Content-Length). */
  readonly chunked?: boolean;
}

export interface RawReply {
  /** 0 when no response came: the connection failed, or the deadline passed (`timedOut`). */
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The first 2 kB of the body. */
  readonly text: string;
  readonly ms: number;
  readonly timedOut: boolean;
  readonly error?: string;
}

/** One request on a fresh connection; gives up after `deadlineMs` (a stalled server never answers). */
export function send(baseUrl: string, request: RawRequest, deadlineMs: number): Promise<RawReply> {
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (reply: Omit<RawReply, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...reply, ms: Math.round(performance.now() - started) });
    };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(request.headers ?? {}))
      headers[k] = typeof v === 'string' ? v : [...v];
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    if (body && !request.chunked) headers['content-length'] = String(body.length);
    const req = http.request({
      hostname,
      port,
      method: request.method,
      path: request.path,
      headers,
      agent: false,
      setHost: !Object.keys(headers).some((k) => k.toLowerCase() === 'host'),
    });
    const timer = setTimeout(() => {
      finish({
        status: 0,
        headers: {},
        text: '',
        timedOut: true,
        error: `no answer within ${deadlineMs} ms`,
      });
      req.destroy();
    }, deadlineMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 2048) chunks.push(c);
        size += c.length;
      });
      const done = () =>
        finish({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8').slice(0, 2048),
          timedOut: false,
        });
      res.on('end', done);
      // The server may close right after its answer (413 with Connection: close): the status stands.
      res.on('error', done);
      res.on('aborted', done);
    });
    // EPIPE/ECONNRESET while still sending a body the server already refused: wait briefly for the answer.
    req.on('error', (err) => {
      setTimeout(
        () => finish({ status: 0, headers: {}, text: '', timedOut: false, error: String(err) }),
        200,
      );
    });
    if (body && request.chunked) {
      // Several chunks, so a limit is crossed mid-stream rather than in the first write.
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

// ---- what a request may have written ----

export interface Snapshot {
  /** Table -> row count and a digest of its rows (an update changes the digest). */
  readonly tables: ReadonlyMap<string, { rows: number; digest: string }>;
  /** Files under DATA_DIR/media -> size. */
  readonly files: ReadonlyMap<string, number>;
}

/** Reads the server's SQLite file and media folder from outside (read-only). */
export class WriteWatch {
  readonly #db: SqliteDatabase.Database;
  readonly #media: string;

  constructor(dataDir: string) {
    this.#db = new SqliteDatabase(path.join(dataDir, 'onair.sqlite'), {
      readonly: true,
      fileMustExist: true,
    });
    this.#media = path.join(dataDir, 'media');
  }

  snapshot(): Snapshot {
    const tables = new Map<string, { rows: number; digest: string }>();
    const names = this.#db
      .prepare(
        `select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`,
      )
      .pluck()
      .all() as string[];
    for (const name of names) {
      const rows = this.#db.prepare(`select * from "${name}"`).raw().all();
      const digest = crypto
        .createHash('sha1')
        .update(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
        .digest('hex');
      tables.set(name, { rows: rows.length, digest });
    }
    const files = new Map<string, number>();
    const walk = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else
          files.set(
            path.relative(this.#media, full),
            fs.statSync(full, { throwIfNoEntry: false })?.size ?? -1,
          );
      }
    };
    if (fs.existsSync(this.#media)) walk(this.#media);
    return { tables, files };
  }

  close(): void {
    this.#db.close();
  }
}

/** What changed between two snapshots, in words; empty when nothing did. */
export function writesBetween(before: Snapshot, after: Snapshot): string[] {
  const changes: string[] = [];
  for (const [name, a] of after.tables) {
    const b = before.tables.get(name);
    if (!b) changes.push(`table ${name} appeared`);
    else if (b.rows !== a.rows) changes.push(`table ${name}: ${b.rows} -> ${a.rows} rows`);
    else if (b.digest !== a.digest) changes.push(`table ${name}: rows updated`);
  }
  for (const [file, size] of after.files) {
    if (!before.files.has(file)) changes.push(`new file media/${file}`);
    else if (before.files.get(file) !== size) changes.push(`file media/${file} changed size`);
  }
  for (const file of before.files.keys())
    if (!after.files.has(file)) changes.push(`file media/${file} removed`);
  return changes;
}

// ---- the child ----

async function runChild(): Promise<void> {
  const env = JSON.parse(process.env.ONAIR_FUZZ_ENV ?? '{}') as Record<string, string>;
  const dataDir = process.env.ONAIR_FUZZ_DATA_DIR;
  let info: FuzzServerInfo;
  let close: () => Promise<void>;
  if (dataDir) {
    // A restart: the account, its key and the secret are already in DATA_DIR.
    const { loadConfig } = await import('../../src/config.ts');
    const { startServer } = await import('../../src/main.ts');
    const { testEnv } = await import('./server.ts');
    const fullEnv = testEnv(dataDir, env);
    const server = await startServer(loadConfig(fullEnv), fullEnv);
    info = { url: server.url, apiKey: process.env.ONAIR_FUZZ_API_KEY ?? '', dataDir };
    close = () => server.close();
  } else {
    const { startTestServer } = await import('./server.ts');
    const server = await startTestServer(env);
    info = { url: server.url, apiKey: server.apiKey, dataDir: server.dataDir };
    // The parent removes DATA_DIR (it outlives restarts); stop the server only.
    close = () => server.close();
  }
  process.stdout.write(`${READY}${JSON.stringify(info)}\n`);
  process.once('SIGTERM', () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

if (process.env.ONAIR_FUZZ_CHILD === '1' && import.meta.filename === process.argv[1]) {
  runChild().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
