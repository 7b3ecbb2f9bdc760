import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import crypto from 'node:crypto';
import { ObjectTooLargeError, type Storage, type StoredObject } from './storage.ts';

/**
 * Everything under DATA_DIR is onair's alone (database, media, Redis files, the secret): folders
 * 0700, files 0600. Processes also run with umask 077 (what ffmpeg and sharp create follows it);
 * the modes here hold for files this module writes whatever the umask.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) as 0700, and narrows it to 0700 if it exists with wider modes. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if ((fs.statSync(dir).mode & 0o777) !== PRIVATE_DIR_MODE) fs.chmodSync(dir, PRIVATE_DIR_MODE);
}

/** Storage on the local disk under one root; keys are `/`-separated relative paths. */
export class LocalStorage implements Storage {
  readonly kind = 'local' as const;

  constructor(private readonly root: string) {
    ensurePrivateDir(root);
  }

  /** Resolves a key inside the root; refuses anything that would escape it. */
  pathOf(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) {
      throw new Error(`storage key escapes the root: ${key}`);
    }
    return resolved;
  }

  async putStream(key: string, body: Readable, opts: { maxBytes?: number } = {}): Promise<{ bytes: number }> {
    const target = this.pathOf(key);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    const temp = `${target}.${crypto.randomBytes(4).toString('hex')}.part`;
    let bytes = 0;
    const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > limit) done(new ObjectTooLargeError(limit));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, fs.createWriteStream(temp, { mode: PRIVATE_FILE_MODE }));
      await fsp.rename(temp, target);
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
    return { bytes };
  }

  async putText(key: string, text: string): Promise<void> {
    const target = this.pathOf(key);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    const temp = `${target}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    await fsp.writeFile(temp, text, { mode: PRIVATE_FILE_MODE });
    await fsp.rename(temp, target);
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await fsp.readFile(this.pathOf(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return fs.createReadStream(this.pathOf(key), range);
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const s = await fsp.stat(this.pathOf(key));
      return s.isFile() ? { size: s.size, modified: s.mtime } : undefined;
    } catch {
      return undefined;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.pathOf(prefix);
    try {
      const entries = await fsp.readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
        .sort();
    } catch {
      return [];
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    await fsp.rm(this.pathOf(prefix), { recursive: true, force: true });
  }

  localDir(prefix: string): string {
    return this.pathOf(prefix);
  }
}
