import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import crypto from 'node:crypto';
import { assertValidKey } from './keys.ts';
import { ObjectTooLargeError, type LocalCopy, type Storage, type StoredObject } from './storage.ts';

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

/** Errors that mean "there is no object at this key" (a missing file, or a folder where a file was asked for). */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

/**
 * Storage on the local disk under one root; keys are `/`-separated relative paths. A put writes a
 * temporary file next to its target (`<name>.<random>.part` or `.tmp`) and renames it into place:
 * readers never see half an object. Until then `list` does show the temporary file: start-up
 * cleanup (`removeAbandonedUploads`) finds what a crash left behind that way.
 */
export class LocalStorage implements Storage {
  readonly kind = 'local' as const;

  constructor(private readonly root: string) {
    ensurePrivateDir(root);
  }

  /** Resolves a valid key inside the root (validation already refuses `..` and absolute keys). */
  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private async prepare(key: string): Promise<string> {
    const target = this.pathOf(key);
    await fsp.mkdir(path.dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
    return target;
  }

  async putStream(
    key: string,
    body: Readable,
    opts: { maxBytes?: number; contentType?: string } = {},
  ): Promise<{ bytes: number }> {
    const target = await this.prepare(key);
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

  async putBytes(key: string, body: Buffer | string, _opts?: { contentType?: string }): Promise<void> {
    const target = await this.prepare(key);
    const temp = `${target}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(temp, body, { mode: PRIVATE_FILE_MODE });
      await fsp.rename(temp, target);
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }

  async readText(key: string): Promise<string | undefined> {
    return (await this.readBytes(key))?.toString('utf8');
  }

  async readBytes(key: string): Promise<Buffer | undefined> {
    const file = this.pathOf(key);
    try {
      return await fsp.readFile(file);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return fs.createReadStream(this.pathOf(key), range && { start: range.start, end: range.end });
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    const file = this.pathOf(key);
    try {
      const s = await fsp.stat(file, { bigint: true });
      if (!s.isFile()) return undefined;
      // Every put renames a new file into place, so the inode changes with the bytes even when two
      // puts of the same size land within one tick of the file system's clock.
      const etag = `"${s.ino.toString(16)}-${s.size.toString(16)}-${s.mtimeNs.toString(16)}"`;
      return { size: Number(s.size), modified: new Date(Number(s.mtimeMs)), etag };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
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
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
  }

  async sizes(prefix: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const key of await this.list(prefix)) {
      // A file listed and gone before its stat (a temporary upload renamed) is not there.
      const size = await fsp.stat(this.pathOf(key)).then(
        (s) => s.size,
        (err: unknown) => {
          if (isMissing(err)) return undefined;
          throw err;
        },
      );
      if (size !== undefined) out.set(key, size);
    }
    return out;
  }

  async deletePrefix(prefix: string): Promise<void> {
    await fsp.rm(this.pathOf(prefix), { recursive: true, force: true });
  }

  /** The stored file itself: nothing is copied, so `release` has nothing to remove. */
  async localCopy(key: string, _scratchDir: string): Promise<LocalCopy> {
    const file = this.pathOf(key);
    const s = await fsp.stat(file);
    if (!s.isFile()) {
      throw Object.assign(new Error(`no such object: ${key}`), { code: 'ENOENT' });
    }
    return { path: file, release: () => Promise.resolve() };
  }
}
