/**
 * The tus 1.0.0 request headers onair reads (https://tus.io/protocols/resumable-upload), parsed
 * without I/O: each parser returns the value or the problem in words for a 400.
 */
import { isCleanText } from '../validation.ts';

export const TUS_VERSION = '1.0.0';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** At most this many key-value pairs, keys this long: what a client needs, and bounded. */
const MAX_PAIRS = 32;
const MAX_KEY_LENGTH = 64;
/** Node refuses request headers past 16 KiB in all; a value this long is already too much. */
const MAX_METADATA_LENGTH = 8192;

/** "Base64 as RFC 4648 §4 writes it": the standard alphabet, padded to a multiple of four. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** A key: no spaces or commas (tus §Upload-Metadata), and printable ASCII so it can be named in a message. */
const KEY = /^[\x21-\x2b\x2d-\x7e]+$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * `Upload-Metadata`: comma-separated pairs of a key and its base64 value, separated by a space;
 * the value (and its space) may be left out. Keys are unique. Values are decoded as UTF-8 text and
 * must be clean (no NUL bytes or broken Unicode): they become titles and file names.
 */
export function parseUploadMetadata(header: string | undefined): Parsed<Map<string, string>> {
  const pairs = new Map<string, string>();
  if (header === undefined || header.trim() === '') return { ok: true, value: pairs };
  if (header.length > MAX_METADATA_LENGTH)
    return { ok: false, problem: `is longer than ${MAX_METADATA_LENGTH} characters` };
  const items = header.split(',');
  if (items.length > MAX_PAIRS) return { ok: false, problem: `has more than ${MAX_PAIRS} pairs` };
  for (const item of items) {
    const parts = item.trim().split(' ');
    const [key = '', encoded = ''] = parts;
    if (key === '')
      return { ok: false, problem: 'has an empty key (pairs are "key base64value", comma-separated)' };
    if (!KEY.test(key) || key.length > MAX_KEY_LENGTH)
      return {
        ok: false,
        problem: `has a key that is not ${MAX_KEY_LENGTH} printable ASCII characters at most`,
      };
    if (parts.length > 2) return { ok: false, problem: `has more than one space in the pair of "${key}"` };
    if (pairs.has(key)) return { ok: false, problem: `names "${key}" twice` };
    if (!BASE64.test(encoded)) return { ok: false, problem: `has a value for "${key}" that is not base64` };
    let value: string;
    try {
      value = utf8.decode(Buffer.from(encoded, 'base64'));
    } catch {
      return { ok: false, problem: `has a value for "${key}" that is not UTF-8 text` };
    }
    if (!isCleanText(value))
      return { ok: false, problem: `has a value for "${key}" with a NUL byte or broken Unicode` };
    pairs.set(key, value);
  }
  return { ok: true, value: pairs };
}

/** Writes pairs as `Upload-Metadata` does (the inverse of `parseUploadMetadata`, for clients). */
export function formatUploadMetadata(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([key, value]) => `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)
    .join(',');
}

/**
 * `Upload-Length` and `Upload-Offset`: a non-negative integer in decimal digits only (no sign,
 * no exponent, no spaces), within JavaScript's exact integers.
 */
export function parseByteCount(header: string | undefined): Parsed<number> | undefined {
  if (header === undefined) return undefined;
  if (!/^\d{1,16}$/.test(header))
    return { ok: false, problem: 'must be a whole number of bytes (digits only)' };
  const value = Number(header);
  if (!Number.isSafeInteger(value)) return { ok: false, problem: 'is too large' };
  return { ok: true, value };
}

/** `Upload-Expires` is an HTTP-date (RFC 9110 §5.6.7). */
export function httpDate(iso: string): string {
  return new Date(iso).toUTCString();
}
