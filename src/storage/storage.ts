import type { Readable } from 'node:stream';

export interface StoredObject {
  readonly size: number;
  readonly modified: Date;
}

export class ObjectTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`larger than the limit of ${limitBytes} bytes`);
  }
}

/** Where media lives: local disk by default, S3-compatible storage in scale-out mode. */
export interface Storage {
  readonly kind: 'local' | 's3';
  /** Streams a body to `key`; the object becomes visible only once complete. */
  putStream(key: string, body: Readable, opts?: { maxBytes?: number }): Promise<{ bytes: number }>;
  putText(key: string, text: string): Promise<void>;
  readText(key: string): Promise<string | undefined>;
  read(key: string, range?: { start: number; end: number }): Readable;
  stat(key: string): Promise<StoredObject | undefined>;
  list(prefix: string): Promise<string[]>;
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A local directory ffmpeg may write into directly for this prefix, or undefined when the
   * storage is remote and outputs must be uploaded after writing.
   */
  localDir(prefix: string): string | undefined;
}
