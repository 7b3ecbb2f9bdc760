/**
 * What a database error means, read from its code, never from its message (which differs between
 * drivers, versions and locales): better-sqlite3's `SqliteError.code` is SQLite's extended result
 * code name; node-postgres's `DatabaseError.code` is the SQLSTATE.
 */

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

/** PostgreSQL SQLSTATE unique_violation (a unique index or primary key). */
const PG_UNIQUE_VIOLATION = '23505';
const SQLITE_UNIQUE = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);

/** The statement broke a unique index or a primary key, on SQLite or PostgreSQL. */
export function isUniqueViolation(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && (code === PG_UNIQUE_VIOLATION || SQLITE_UNIQUE.has(code));
}

/**
 * SQLite could not take a lock in time (`SQLITE_BUSY`, `SQLITE_BUSY_SNAPSHOT`, ...): another
 * process holds or changed the database. Retrying the whole transaction is the remedy.
 */
export function isBusy(err: unknown): boolean {
  return codeOf(err)?.startsWith('SQLITE_BUSY') ?? false;
}
