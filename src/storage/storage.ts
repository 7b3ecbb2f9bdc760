import type { Readable } from 'node:stream';

export interface StoredObject {
  readonly size: number;
  readonly modified: Date;
  /** Changes whenever the object's bytes do (quoted, as in HTTP). */
  readonly etag: string;
}

export class ObjectTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`larger than the limit of ${limitBytes} bytes`);
  }
}

/** A local file to hand to ffmpeg (or another program) for reading; `release` removes any copy. */
export interface LocalCopy {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Where media lives: local disk by default, S3-compatible storage in scale-out mode. This is the
 * only file API for media: nothing outside the adapters touches `DATA_DIR/media` or a bucket.
 * Keys are `/`-separated relative paths (`assets/<id>/<revision>/<rendition>/seg_00001.m4s`).
 * Every put is atomic: readers see the whole object or none (no half segments, no half playlists).
 */
export interface Storage {
  readonly kind: 'local' | 's3';
  /** Streams a body to `key`; the object becomes visible only once complete. */
  putStream(
    key: string,
    body: Readable,
    opts?: { maxBytes?: number; contentType?: string },
  ): Promise<{ bytes: number }>;
  /** A small object from memory (playlists, images, JSON state). */
  putBytes(key: string, body: Buffer | string, opts?: { contentType?: string }): Promise<void>;
  /** The whole object as text, or undefined when it does not exist. */
  readText(key: string): Promise<string | undefined>;
  /** The whole object, or undefined when it does not exist (for small objects only). */
  readBytes(key: string): Promise<Buffer | undefined>;
  /** Streams the object (or an inclusive byte range of it); the stream errors if it does not exist. */
  read(key: string, range?: { start: number; end: number }): Readable;
  stat(key: string): Promise<StoredObject | undefined>;
  /** Every key under `prefix` (a folder: `prefix/...`), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Every key under `prefix` with its size in bytes: one listing on S3 (no call per object). */
  sizes(prefix: string): Promise<Map<string, number>>;
  /** Removes every object under `prefix` (a folder), or the object `prefix` itself. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A local file with the object's bytes, for programs that need a seekable file (ffprobe, ffmpeg
   * reading an MP4 whose index is at the end): on local disk the stored file itself (read only, never
   * write to it); remote, a copy downloaded into `scratchDir`, removed by `release`.
   */
  localCopy(key: string, scratchDir: string): Promise<LocalCopy>;
}
