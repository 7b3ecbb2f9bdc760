import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

/**
 * Which database the tests run onair against: `ONAIR_TEST_DATABASE=postgres` for PostgreSQL (a
 * fresh database per server, on the server at `ONAIR_TEST_PG_URL`), else SQLite files under each
 * test's DATA_DIR. PostgreSQL runs on these machines: when it was asked for and does not answer,
 * the test fails saying so, it is never skipped.
 */
export type TestDatabaseKind = 'sqlite' | 'postgres';

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function testDatabaseKind(): TestDatabaseKind {
  const wanted = process.env.ONAIR_TEST_DATABASE ?? '';
  if (wanted === '' || wanted === 'sqlite') return 'sqlite';
  if (wanted === 'postgres') return 'postgres';
  throw new Error(`ONAIR_TEST_DATABASE must be "postgres" or "sqlite" (or unset), not "${wanted}"`);
}

/** The maintenance database URL test databases are created from and dropped through. */
export function postgresBaseUrl(): string {
  return process.env.ONAIR_TEST_PG_URL || DEFAULT_PG_URL;
}

/** The URL without its password, for messages. */
function shown(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href;
}

function psql(base: URL, statement: string): void {
  try {
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', statement, base.href], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `PostgreSQL at ${shown(base)} refused "${statement}": ${stderr || (err as Error).message}. ` +
        'Tests with ONAIR_TEST_DATABASE=postgres (and test/integration/postgres.test.ts) need it running; ' +
        'set ONAIR_TEST_PG_URL to point elsewhere.',
      { cause: err },
    );
  }
}

/** Databases created by this test process and not dropped yet: dropped at exit at the latest. */
const undropped = new Map<string, () => void>();
let exitHook = false;

export interface TestDatabase {
  readonly url: string;
  /** Removes the database, connected clients and all (idempotent). */
  drop(): void;
}

/** A new, empty PostgreSQL database (`onair_t_<hex>`), created synchronously with psql. */
export function createPostgresDatabase(): TestDatabase {
  const base = new URL(postgresBaseUrl());
  const name = `onair_t_${crypto.randomBytes(8).toString('hex')}`;
  psql(base, `CREATE DATABASE "${name}"`);
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  const drop = () => {
    if (!undropped.delete(name)) return;
    // WITH (FORCE) (PostgreSQL 13+) ends the pools of servers that were killed, not closed.
    psql(base, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  undropped.set(name, drop);
  if (!exitHook) {
    exitHook = true;
    // A test that forgot (or could not reach) its drop(): the database goes when this process ends.
    process.once('exit', () => {
      for (const dropOne of [...undropped.values()]) {
        try {
          dropOne();
        } catch (err) {
          process.stderr.write(`${(err as Error).message}\n`);
        }
      }
    });
  }
  return { url: url.href, drop };
}

/**
 * The DATABASE_URL a test onair should use: a fresh PostgreSQL database when the environment asks
 * for PostgreSQL, else undefined (SQLite under the server's DATA_DIR) with a drop() that does
 * nothing.
 */
export function testDatabaseUrl(): { url: string | undefined; drop(): void } {
  if (testDatabaseKind() === 'sqlite') return { url: undefined, drop() {} };
  return createPostgresDatabase();
}
