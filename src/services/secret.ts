import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../storage/local-storage.ts';

/**
 * The signing secret: ONAIR_SECRET, or one generated at first start and kept (mode 0600) under
 * DATA_DIR, so a one-machine install needs no setup and tokens survive restarts. With a shared
 * database (scale-out) every api, worker and ingest must sign with one secret, and their DATA_DIRs
 * are their own: then ONAIR_SECRET is required.
 */
export function loadSecret(configured: string | undefined, dataDir: string, shared = false): string {
  if (configured) return configured;
  if (shared) {
    throw new Error(
      'ONAIR_SECRET is required with a shared database (DATABASE_URL): every api, workers and ingest process must sign with the same secret. Generate one with `openssl rand -base64 32` and give it to all of them.',
    );
  }
  const file = path.join(dataDir, 'secret.key');
  ensurePrivateDir(dataDir);
  try {
    // `wx`: two processes starting at once both end up with the one that was written first.
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64url') + '\n', {
      mode: PRIVATE_FILE_MODE,
      flag: 'wx',
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // A file from an older install (or copied in by hand) may be readable by others.
  if ((fs.statSync(file).mode & 0o777) !== PRIVATE_FILE_MODE) fs.chmodSync(file, PRIVATE_FILE_MODE);
  return fs.readFileSync(file, 'utf8').trim();
}

/** A PostgreSQL DATABASE_URL means processes on several machines share the data (scale-out). */
export function sharesDatabase(config: { readonly databaseUrl?: string | undefined }): boolean {
  return /^postgres(ql)?:/.test(config.databaseUrl ?? '');
}

/**
 * The operator's key, derived from the server secret (HKDF-SHA256, its own label): it opens what
 * shows the whole deployment (Prometheus `/metrics`, the queue dashboard `/admin/queues`) and
 * nothing of any account. `onair operator-key` prints it; every api process derives the same one.
 */
export function operatorKey(serverSecret: string): string {
  const key = crypto.hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'onair operator v1', 32);
  return `onair_op_${Buffer.from(key).toString('base64url')}`;
}
