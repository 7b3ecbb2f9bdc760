/**
 * What the route fuzzer needs around a real onair:
 *
 * - the server in a child process of its own, so a request that stalls its event loop cannot stall
 *   the test runner (the runner times the request out), and a stalled or crashed server can be
 *   killed with everything it started and restarted on the same data;
 * - raw HTTP requests: paths, query strings, headers and cookies exactly as written (fetch would
 *   normalise `..`, re-encode the path and refuse a `Host` header);
 * - a snapshot of what a request may have written: every table of its database (SQLite in DATA_DIR
 *   or PostgreSQL) and every object of its media storage (DATA_DIR/media or an S3 bucket), read
 *   through onair's own `openDatabase` and `openStorage`, so one code path covers both backends.
 *
 * Run as a script (`ONAIR_FUZZ_CHILD=1 node --import tsx test/helpers/fuzz.ts`) it is that child:
 * it starts onair and prints one `ONAIR_FUZZ_READY <json>` line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.ts';
import { databaseKind, openDatabase, type Db } from '../../src/db/database.ts';
import { startServer } from '../../src/main.ts';
import { assetPrefix, SOURCES_ROOT } from '../../src/media/layout.ts';
import { openStorage } from '../../src/storage/open-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { testDatabaseUrl } from './database.ts';
import { databaseEnv, testEnv } from './server.ts';
import { operatorKey } from '../../src/services/secret.ts';

const READY = 'ONAIR_FUZZ_READY ';
/** USER_HZ of /proc/<pid>/stat times (100 on Linux). */
const CLOCK_TICKS = 100;

export interface FuzzServerInfo {
  readonly url: string;
  readonly apiKey: string;
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

  private constructor(
    readonly dataDir: string,
    /** The test's settings plus its database: the same on every (re)start. */
    private readonly env: Record<string, string>,
    private readonly database: { readonly url: string | undefined; drop(): void },
  ) {}

  /**
   * Starts onair on a new DATA_DIR and, with ONAIR_TEST_DATABASE=postgres, a new PostgreSQL
   * database. Both are made here, not in the child: a restarted child finds the same ones, and
   * `close()` removes them whichever child ran last (or none came up).
   */
  static async start(env: Record<string, string>): Promise<FuzzServer> {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-test-'));
    const database = testDatabaseUrl();
    const server = new FuzzServer(dataDir, { ...databaseEnv(database, env), ...env }, database);
    try {
      await server.#spawn();
    } catch (err) {
      await server.#killGroup();
      server.#removeData();
      throw err;
    }
    return server;
  }

  get url(): string {
    return this.#info!.url;
  }
  get apiKey(): string {
    return this.#info!.apiKey;
  }
  /** The operator key (`onair operator-key`) of this server's secret. */
  get operatorKey(): string {
    const secret =
      this.env.ONAIR_SECRET ?? fs.readFileSync(path.join(this.dataDir, 'secret.key'), 'utf8').trim();
    return operatorKey(secret);
  }
  /** PostgreSQL, or undefined: SQLite in DATA_DIR. */
  get databaseUrl(): string | undefined {
    return this.database.url;
  }

  /** The environment the server runs with (DATA_DIR, database, storage): what its `loadConfig` reads. */
  get serverEnv(): NodeJS.ProcessEnv {
    return testEnv(this.dataDir, this.env);
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

  async #spawn(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename], {
      env: {
        ...process.env,
        ONAIR_FUZZ_CHILD: '1',
        ONAIR_FUZZ_ENV: JSON.stringify(this.env),
        ONAIR_FUZZ_DATA_DIR: this.dataDir,
        // A restart: the account and its key are already in the database.
        ...(this.#info ? { ONAIR_FUZZ_API_KEY: this.#info.apiKey } : {}),
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

  /** DATA_DIR and the PostgreSQL database (S3 objects stay in the run's bucket, as for every test server). */
  #removeData(): void {
    try {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
    } finally {
      this.database.drop();
    }
  }

  /** Kills the server (stalled or dead) and starts it again on the same data and API key. */
  async restart(): Promise<void> {
    await this.#killGroup();
    this.restarts += 1;
    await this.#spawn();
  }

  /** Stops the server and removes its data; kills it if it does not stop within 15 s. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child?.pid && !this.exited) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => void this.#killGroup(), 15_000);
      await exited;
      clearTimeout(timer);
      // Its redis-server and workers go with their parent; anything left in the group goes now.
      await this.#killGroup();
    }
    this.#removeData();
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
  /** Media storage keys (relative to DATA_DIR/media, or to the bucket prefix) -> size. */
  readonly files: ReadonlyMap<string, number>;
}

/**
 * The top-level folders of every storage key onair writes (`src/media/layout.ts`): uploads under
 * `sources/`, encoded media under `assets/`. Storage lists folders, not the root (S3 has none).
 */
const MEDIA_ROOTS = [SOURCES_ROOT, assetPrefix('-').split('/')[0]!];

/** A column value as text that is the same in every snapshot (dates, bigints, blobs included). */
function stableValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return `${value}n`;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array)
    return `x'${Buffer.from(value).toString('hex')}'`;
  return value;
}

/** One row as JSON with its columns in name order. */
function stableRow(row: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(row)
      .sort()
      .map((column) => [column, stableValue(row[column])]),
  );
}

/**
 * Reads, from outside, what the server may have written: its database through onair's own
 * `openDatabase` (the SQLite file in DATA_DIR, made read-only for this connection, or its
 * PostgreSQL database) and its media through `openStorage` (DATA_DIR/media or its S3 prefix).
 */
export class WriteWatch {
  private constructor(
    private readonly db: Db,
    private readonly storage: Storage,
    private readonly restoreEnv: () => void,
  ) {}

  /** `env`: the server's environment (`FuzzServer.serverEnv`), read with the server's `loadConfig`. */
  static async open(env: NodeJS.ProcessEnv): Promise<WriteWatch> {
    const config = loadConfig(env);
    // S3Storage takes its credentials from the SDK's default chain (this process's environment).
    const restoreEnv = config.s3 ? useEnv(env, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) : () => {};
    const db = openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    try {
      // Only reads from here: SQLite refuses any write on this connection (its one connection).
      if (databaseKind(db) === 'sqlite') await sql`pragma query_only = on`.execute(db);
      return new WriteWatch(db, await openStorage(config), restoreEnv);
    } catch (err) {
      await db.destroy();
      restoreEnv();
      throw err;
    }
  }

  /** Every media key under `prefix` (a folder), sorted. */
  list(prefix: string): Promise<string[]> {
    return this.storage.list(prefix);
  }

  async snapshot(): Promise<Snapshot> {
    const [tables, files] = await Promise.all([this.#tables(), this.#files()]);
    return { tables, files };
  }

  async #tables(): Promise<Map<string, { rows: number; digest: string }>> {
    // SQLite: sqlite_master; PostgreSQL: the catalogue. Kysely's migration tables are left out.
    const names = (await this.db.introspection.getTables())
      .filter((t) => !t.isView && (t.schema === undefined || t.schema === 'public'))
      .map((t) => t.name)
      .sort();
    const digests = await Promise.all(
      names.map(async (name) => {
        const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(
          this.db,
        );
        // PostgreSQL returns rows in no particular order: the digest is over the sorted rows.
        const lines = rows.map(stableRow).sort();
        const digest = crypto.createHash('sha1').update(lines.join('\n')).digest('hex');
        return [name, { rows: rows.length, digest }] as const;
      }),
    );
    return new Map(digests);
  }

  async #files(): Promise<Map<string, number>> {
    // One listing per root, sizes included (on S3 no HEAD per object: the fuzz snapshots often).
    const maps = await Promise.all(MEDIA_ROOTS.map((root) => this.storage.sizes(root)));
    return new Map(maps.flatMap((m) => [...m]).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  }

  async close(): Promise<void> {
    try {
      await this.db.destroy();
      (this.storage as Partial<{ close(): void }>).close?.();
    } finally {
      this.restoreEnv();
    }
  }
}

/** Sets `names` in this process's environment to their values in `env`; returns the undo. */
function useEnv(env: NodeJS.ProcessEnv, names: readonly string[]): () => void {
  const saved = names.map((name) => [name, process.env[name]] as const);
  for (const name of names) {
    if (env[name] === undefined) delete process.env[name];
    else process.env[name] = env[name];
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
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
  if (!dataDir) throw new Error('ONAIR_FUZZ_DATA_DIR is not set');
  // The parent made DATA_DIR and the database (DATABASE_URL is in `env`) and removes them.
  const fullEnv = testEnv(dataDir, env);
  // This process is the server: its environment is the server's, as in a deployment. S3Storage
  // reads its credentials (AWS_ACCESS_KEY_ID, ...) from process.env, not from `fullEnv`.
  for (const [name, value] of Object.entries(fullEnv)) if (value !== undefined) process.env[name] = value;
  const server = await startServer(loadConfig(fullEnv), fullEnv);
  // A first start generates the key; a restart finds the account (and key) of the first.
  const restartKey = process.env.ONAIR_FUZZ_API_KEY;
  if (restartKey && server.generatedApiKey) {
    await server.close();
    throw new Error("the restarted server found no account: its database was not the first start's");
  }
  const apiKey = restartKey ?? server.generatedApiKey;
  if (!apiKey) throw new Error('expected a generated API key on first start');
  const info: FuzzServerInfo = { url: server.url, apiKey };
  process.stdout.write(`${READY}${JSON.stringify(info)}\n`);
  process.once('SIGTERM', () => {
    server.close().then(
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
