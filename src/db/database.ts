import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../storage/local-storage.ts';
import { migrationProvider } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

/**
 * Opens the database: a SQLite file under DATA_DIR by default. `DATABASE_URL` (PostgreSQL) is the
 * scale-out mode; the query layer only uses Kysely's portable builder so both share one code path.
 */
export function openDatabase(opts: { dataDir: string; databaseUrl?: string | undefined }): Db {
  if (opts.databaseUrl && !opts.databaseUrl.startsWith('sqlite:')) {
    throw new Error('DATABASE_URL for PostgreSQL is not supported yet; unset it to use the SQLite file.');
  }
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
 * After a secret is replaced (a rotated stream key): with secure_delete the new pages hold no
 * trace of it, but the old page images stay in the main file until a checkpoint copies the new
 * ones over them, and in the WAL until it is truncated. This does both now. A reader in another
 * process can hold it up (busy_timeout); past that, the next automatic checkpoint finishes it.
 */
export async function eraseOverwritten(db: Db): Promise<void> {
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db);
}

export async function migrateToLatest(db: Db): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(
      `database migration failed${failed ? ` at ${failed.migrationName}` : ''}: ${String(error)}`,
    );
  }
}
