import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { createLogger, type Logger } from '../log.ts';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/local-storage.ts';
import { isBusy } from './errors.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export type DatabaseKind = 'sqlite' | 'postgres';

/** node-postgres's own default pool size; each process (API, HTTP workers, job workers) has one. */
export const DEFAULT_POOL_SIZE = 10;

export interface DatabaseOptions {
  dataDir: string;
  /** `postgres://` or `postgresql://` for PostgreSQL; `sqlite:<path>` or unset for a SQLite file. */
  databaseUrl?: string | undefined;
  /**
   * Connections per process to PostgreSQL. Also settable as `?pool_size=N` on DATABASE_URL (taken
   * off before the URL reaches the driver); this option wins. Ignored for SQLite.
   */
  databasePoolSize?: number | undefined;
  /** Where an idle pooled connection's error (PostgreSQL restarted, say) is reported. */
  log?: Logger | undefined;
}

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

/**
 * Opens the database: a SQLite file under DATA_DIR by default, or `DATABASE_URL`. A
 * `postgres://` URL is the scale-out mode (several API and worker processes, on several machines);
 * the query layer (`src/db/`) uses Kysely's portable builder so both share one code path, and
 * where they cannot, branches on `databaseKind` in that one function.
 */
export function openDatabase(opts: DatabaseOptions): Db {
  if (opts.databaseUrl && POSTGRES_URL.test(opts.databaseUrl)) return openPostgres(opts);
  if (opts.databaseUrl && !opts.databaseUrl.startsWith('sqlite:')) {
    throw new Error(
      'DATABASE_URL must start with postgres:// (or postgresql://) or sqlite:; unset it to use the SQLite file under DATA_DIR.',
    );
  }
  return openSqlite(opts);
}

function openSqlite(opts: DatabaseOptions): Db {
  const file = opts.databaseUrl?.startsWith('sqlite:')
    ? opts.databaseUrl.slice('sqlite:'.length)
    : path.join(opts.dataDir, 'onair.sqlite');
  if (opts.databaseUrl?.startsWith('sqlite:')) {
    // A path of the user's choosing: create what is missing as private, leave existing folders be.
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  } else {
    ensurePrivateDir(opts.dataDir);
  }
  if (file !== ':memory:') createPrivateFiles(file);
  const sqlite = new SqliteDatabase(file);
  // WAL lets the API read while a worker process writes; busy_timeout rides out write contention.
  sqlite.pragma('journal_mode = WAL');
  // Deleted and overwritten rows (a rotated stream key, a registrant removed by retention) are
  // zeroed in their pages instead of lingering in free space; see `eraseOverwritten`.
  sqlite.pragma('secure_delete = ON');
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
}

/**
 * node-postgres hands `int8` (bigint columns, `count(*)`) and `numeric` (`sum` of a bigint) back
 * as strings, so that no precision is lost beyond 2^53. Nothing onair counts or sums gets near
 * that (byte sizes, watch seconds, row counts), and callers compare with numbers: parse them as
 * numbers, on this pool only (`types` option), not through pg's process-wide `types` registry.
 */
const PG_INT8 = 20;
const PG_NUMERIC = 1700;
const postgresTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid: number, format?: 'text' | 'binary'): unknown => {
    if (format !== 'binary' && oid === PG_INT8) return (v: string) => Number.parseInt(v, 10);
    if (format !== 'binary' && oid === PG_NUMERIC) return (v: string) => Number.parseFloat(v);
    return pg.types.getTypeParser(oid, format);
  },
};

function openPostgres(opts: DatabaseOptions): Db {
  const url = new URL(opts.databaseUrl!);
  const fromUrl = url.searchParams.get('pool_size');
  url.searchParams.delete('pool_size');
  const max = opts.databasePoolSize ?? (fromUrl ? Number(fromUrl) : DEFAULT_POOL_SIZE);
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    const given = opts.databasePoolSize ?? fromUrl;
    throw new Error(`the PostgreSQL pool size must be a whole number from 1 to 1000, not "${given}"`);
  }
  const pool = new pg.Pool({
    connectionString: url.href,
    max,
    types: postgresTypes,
    // A database that does not answer fails the request instead of queueing it forever.
    connectionTimeoutMillis: 10_000,
    application_name: 'onair',
  });
  // An idle pooled connection that breaks (a PostgreSQL restart) emits `error` on the pool; unheard,
  // that would end the process. The pool drops that client and opens a new one on the next query.
  const log = opts.log ?? createLogger('warn', { role: 'database' });
  pool.on('error', (err: Error & { code?: string }) => {
    log.warn('idle PostgreSQL connection lost', { code: err.code, reason: err.message });
  });
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Which database a handle talks to, for the few statements that differ (kept inside src/db/). */
export function databaseKind(db: Db): DatabaseKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * The database file is created 0600 before SQLite opens it: SQLite gives its -wal and -shm files
 * the database file's mode. Files of an older install are narrowed to 0600.
 */
function createPrivateFiles(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    try {
      if ((fs.statSync(f).mode & 0o777) !== PRIVATE_FILE_MODE) fs.chmodSync(f, PRIVATE_FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * After a secret is replaced (a rotated stream key).
 *
 * SQLite: with secure_delete the new pages hold no trace of it, but the old page images stay in
 * the main file until a checkpoint copies the new ones over them, and in the WAL until it is
 * truncated. This does both now. A reader in another process can hold it up (busy_timeout); past
 * that, the next automatic checkpoint finishes it.
 *
 * PostgreSQL: nothing. Its files live on the database server, outside DATA_DIR and outside what
 * onair can promise: an UPDATE leaves the old row version in the table until VACUUM reuses the
 * space (without zeroing it) and in the WAL until the server recycles it. `VACUUM FULL events`
 * would rewrite the table but lock every page view out while it runs and still leave the WAL
 * copy, so it is not done. The old key is refused from the next connection on either way; keeping
 * the server's disks private (and encrypted) is the database operator's part.
 */
export async function eraseOverwritten(db: Db): Promise<void> {
  if (databaseKind(db) === 'postgres') return;
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}

/** How long a SQLite migration that keeps losing races to other processes goes on trying (see below). */
const SQLITE_MIGRATION_PATIENCE_MS = 30_000;

/** How many migrations the database has recorded as applied. */
async function appliedCount(migrator: Migrator): Promise<number> {
  return (await migrator.getMigrations()).filter((m) => m.executedAt !== undefined).length;
}

/**
 * Brings the schema up to date. Several processes may do this at once (the API, its job workers
 * and the ingest process all call it at start-up):
 * - PostgreSQL: Kysely's Migrator holds a session advisory lock (`pg_advisory_lock`) around the
 *   run, and tolerates its own bookkeeping tables being created by another process meanwhile; the
 *   second process waits, then finds nothing left to do.
 * - SQLite: the Migrator's lock is a no-op (it assumes one connection), and it reads which
 *   migrations ran before running them, each outside a transaction (SQLite's DDL is not run in one
 *   by Kysely). If another process migrates in between, this one fails: with SQLITE_BUSY, or with
 *   "already exists" or "duplicate column name" (the other created a table or added a column and
 *   has not recorded its migration yet). It then
 *   runs again, for up to 30 s, when the other process has made progress, the database was busy,
 *   or what it meant to create already exists; the rerun sees the other's work. A migration that
 *   fails on its own fails at once, with its error (after 30 s for an "already exists").
 */
export async function migrateToLatest(db: Db): Promise<void> {
  const sqlite = databaseKind(db) === 'sqlite';
  const migrator = new Migrator({ db, provider: migrationProvider });
  const deadline = Date.now() + SQLITE_MIGRATION_PATIENCE_MS;
  for (;;) {
    const before = sqlite ? await appliedCount(migrator) : 0;
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) return;
    const raced =
      sqlite &&
      Date.now() < deadline &&
      (isBusy(error) ||
        /already exists|duplicate column name/.test(String(error)) ||
        (await appliedCount(migrator)) > before);
    if (raced) {
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      continue;
    }
    throw new Error(
      `database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`,
    );
  }
}
