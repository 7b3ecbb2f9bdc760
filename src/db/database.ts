import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
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
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets the API read while a worker process writes; busy_timeout rides out write contention.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 10000');
  sqlite.pragma('foreign_keys = ON');
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
