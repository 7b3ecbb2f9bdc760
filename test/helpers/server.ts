import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { openStorage } from '../../src/storage/open-storage.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { testStorageEnv } from './backends.ts';
import { testDatabaseUrl } from './database.ts';

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  readonly apiKey: string;
  readonly client: OnairClient;
  /** PostgreSQL when ONAIR_TEST_DATABASE=postgres (a database of its own); undefined: SQLite in dataDir. */
  readonly databaseUrl: string | undefined;
  /** The server secret: ONAIR_SECRET, else the one it generated in DATA_DIR/secret.key. */
  readonly secret: string;
  /** Its whole environment (DATA_DIR, DATABASE_URL, S3_*): what its `loadConfig` read. */
  readonly env: NodeJS.ProcessEnv;
}

/** The environment of a test onair: free ports on loopback, fast encodes, its own Redis. */
export function testEnv(dataDir: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: '0',
    RTMP_PORT: '0',
    SRT_PORT: '0',
    SRT_HOST: '127.0.0.1',
    WHIP_PORT: '0',
    // Chromium on this machine publishes over loopback.
    WHIP_ALLOW_LOOPBACK: 'on',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    X264_PRESET: 'ultrafast',
    // One HTTP process (the default is one per core): tests that want a cluster ask for one.
    HTTP_PROCESSES: '1',
    JOB_LOCK_MS: '3000',
    LOG_LEVEL: 'warn',
    REDIS_URL: '',
    // SQLite in DATA_DIR unless the test says otherwise: a DATABASE_URL of the shell never leaks in.
    DATABASE_URL: '',
    // Local disk, or the suite's S3 bucket when it runs on S3 (ONAIR_TEST_STORAGE=s3).
    ...testStorageEnv(dataDir),
    ...env,
  };
}

/**
 * What a test onair on `database` needs: its DATABASE_URL and, with PostgreSQL (a shared database,
 * where onair takes the secret from ONAIR_SECRET only), a secret of its own.
 */
export function databaseEnv(database: { url: string | undefined }, env: Record<string, string>) {
  const url = env.DATABASE_URL ?? database.url ?? '';
  return {
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...(/^postgres(ql)?:/.test(url) ? { ONAIR_SECRET: crypto.randomBytes(32).toString('base64url') } : {}),
  };
}

/**
 * A real onair: embedded redis-server, a forked worker process, on a free port, with a short job
 * lock so a killed worker's job is taken over quickly. Its database is a SQLite file in its
 * DATA_DIR, or with ONAIR_TEST_DATABASE=postgres a PostgreSQL database of its own, dropped on close.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-test-'));
  const database = testDatabaseUrl();
  const fullEnv = testEnv(dataDir, { ...databaseEnv(database, env), ...env });
  let server: RunningServer;
  try {
    server = await startServer(loadConfig(fullEnv), fullEnv);
  } catch (err) {
    database.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  if (!server.generatedApiKey) throw new Error('expected a generated API key on first start');
  return {
    ...server,
    close: async () => {
      try {
        await server.close();
      } finally {
        database.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    },
    workerPids: () => server.workerPids(),
    dataDir,
    apiKey: server.generatedApiKey,
    client: new OnairClient(server.url, server.generatedApiKey),
    databaseUrl: fullEnv.DATABASE_URL || undefined,
    secret: fullEnv.ONAIR_SECRET || fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim(),
    env: fullEnv,
  };
}

/** A server's media storage as the test opened it; `close` ends its connections (S3), if any. */
export type ServerStorage = Storage & { close(): void };

/**
 * The media storage of a server (a `TestServer`, or an `OnairProcess` from ./onair-process.ts),
 * opened as the server opens it: DATA_DIR/media, or its prefix in the test bucket. Tests read what
 * the server stored through this, on either backend; close it when done.
 */
export async function serverStorage(server: { readonly env: NodeJS.ProcessEnv }): Promise<ServerStorage> {
  const storage = await openStorage(loadConfig(server.env));
  return storage instanceof S3Storage ? storage : Object.assign(storage, { close() {} });
}

/** The database of a server, as it opens it (its SQLite file or PostgreSQL database); destroy it when done. */
export function serverDatabase(server: { readonly env: NodeJS.ProcessEnv }): Db {
  const config = loadConfig(server.env);
  return openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
}
