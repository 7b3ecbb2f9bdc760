import { z } from 'zod';

/**
 * Shared input rules for everything a client sends. Text that ends up in a database, a CSV, an
 * email or a page must be well-formed Unicode (no lone surrogates, which break UTF-8 encoders and
 * PostgreSQL) without NUL bytes (which PostgreSQL text refuses and C tools truncate at).
 */
export function isCleanText(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** C0 control characters but tab, LF and CR, and DEL: nothing a person types, much that breaks. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** Trimmed text of at most `max` characters, clean as above and without control characters. */
export const SafeText = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `must be at most ${max} characters`)
    .refine(isCleanText, 'must not contain NUL bytes or broken Unicode')
    .refine((t) => !CONTROL.test(t), 'must not contain control characters');

/**
 * A URL onair stores and later shows or calls: only http(s) (never `javascript:`, `data:` or
 * `file:`), no credentials, bounded length.
 */
export const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2000, 'must be at most 2000 characters')
  .refine((u) => {
    const url = new URL(u);
    return !url.username && !url.password;
  }, 'must not contain a user name or password');
