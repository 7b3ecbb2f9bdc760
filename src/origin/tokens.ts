import crypto from 'node:crypto';

/**
 * Playback tokens in nginx `secure_link` form, so an edge can check them without asking the origin:
 *
 *   /s/<hash>/<expires>/<scope>/<id>/<rest>      hash = base64url(md5("<expires>/<scope>/<id>/ <secret>"))
 *
 * exactly what `secure_link $1,$2; secure_link_md5 "$2$3 $secret";` computes (see
 * infra/nginx/onair-edge.conf). The signed prefix binds a token to one event (`e/<webinarId>/`) or
 * one asset (`a/<assetId>/`); every playlist, init and media segment below it is covered because
 * players resolve relative URIs against the playlist URL, so no playlist rewriting is needed.
 * MD5 is what nginx offers here; with the secret as a suffix, short lifetimes and 128-bit output it
 * is the widely deployed secure_link trade-off. The origin checks the same hash on every request.
 */
export type TokenScope = 'e' | 'a';

/**
 * The one canonical spelling of a playback URL. infra/nginx/onair-edge.conf's `location` regex is
 * SIGNED_PATH_PATTERN with named captures (test/unit/tokens.test.ts checks they are the same text),
 * so the edge and the origin accept and refuse the same URLs:
 * - hash: unpadded base64url of 16 bytes is 22 characters whose last one carries 2 bits (the low 4
 *   are zero: A, Q, g or w). nginx's decoder ignores those 4 bits, so without this rule 16 spellings
 *   of one hash would pass the edge and only one the origin.
 * - expires: Unix seconds without a leading zero (nginx's `ngx_atotm` reads `0123` as 123 but its
 *   md5 covers the string as sent), at most 12 digits (far below 2^53 and time_t).
 * - id: a webinar id, an automated session (`<webinarId>.<start>`) or an asset id; the revision and
 *   the file names are what onair writes (`rev_...`, `720p/seg_00001.m4s`, `thumbs/3.jpg`). Each
 *   starts with a letter or digit, so none is `.` or `..`; there are no `%`-escapes, no empty
 *   levels, no over-long names and at most 3 levels below the revision.
 */
const TOKEN_HASH_PATTERN = '[A-Za-z0-9_-]{21}[AQgw]';
const TOKEN_EXPIRES_PATTERN = '[1-9][0-9]{0,11}';
const SCOPE_ID_PATTERN = '[A-Za-z0-9][A-Za-z0-9_.]{0,63}';
const REVISION_PATTERN = '[A-Za-z0-9][A-Za-z0-9_-]{0,63}';
const FILE_PATTERN = '(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}){1,3}';
const PREFIX_PATTERN = `^/s/(${TOKEN_HASH_PATTERN})/(${TOKEN_EXPIRES_PATTERN})(/[ea]/${SCOPE_ID_PATTERN}/)`;
export const SIGNED_PATH_PATTERN = `${PREFIX_PATTERN}(${REVISION_PATTERN})(${FILE_PATTERN})$`;

const SIGNED_PATH = new RegExp(SIGNED_PATH_PATTERN);
const SIGNED_PREFIX = new RegExp(PREFIX_PATTERN);
const TOKEN_HASH = new RegExp(`^${TOKEN_HASH_PATTERN}$`);
const TOKEN_EXPIRES = new RegExp(`^${TOKEN_EXPIRES_PATTERN}$`);
const SCOPE_ID = new RegExp(`^${SCOPE_ID_PATTERN}$`);

export function scopePrefix(scope: TokenScope, id: string): string {
  return `/${scope}/${id}/`;
}

/** The hash of exactly the expiry string given: the string nginx hashes, not a number re-printed. */
function hash(expires: string, prefix: string, secret: string): string {
  return crypto.createHash('md5').update(`${expires}${prefix} ${secret}`).digest('base64url');
}

/** A path (no host) to `rest` under a signed prefix, valid until `expires` (Unix seconds). */
export function signedPath(
  scope: TokenScope,
  id: string,
  rest: string,
  expires: number,
  secret: string,
): string {
  const text = String(expires);
  if (!Number.isSafeInteger(expires) || !TOKEN_EXPIRES.test(text)) {
    throw new RangeError(`a token expiry must be a positive whole number of seconds, got ${text}`);
  }
  if (!SCOPE_ID.test(id)) throw new RangeError(`not a scope id a token can carry: ${JSON.stringify(id)}`);
  const prefix = scopePrefix(scope, id);
  return `/s/${hash(text, prefix, secret)}/${text}${prefix}${rest}`;
}

export type TokenCheck = 'ok' | 'expired' | 'invalid';

/** Fields are the strings as they appear in the URL; anything not in canonical form is 'invalid'. */
export function checkToken(
  token: string,
  expires: string,
  scope: TokenScope,
  id: string,
  secret: string,
  nowSeconds: number,
): TokenCheck {
  if (!TOKEN_HASH.test(token) || !TOKEN_EXPIRES.test(expires) || !SCOPE_ID.test(id)) return 'invalid';
  const expected = Buffer.from(hash(expires, scopePrefix(scope, id), secret));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return 'invalid';
  return Number(expires) < nowSeconds ? 'expired' : 'ok';
}

export interface SignedRequest {
  readonly hash: string;
  readonly expires: string;
  readonly scope: TokenScope;
  readonly id: string;
  readonly revision: string;
  /** The file below the revision, one name per level (`['720p', 'seg_00001.m4s']`). */
  readonly file: readonly string[];
}

/**
 * Parses a raw (undecoded) request path of the origin. `unsigned`: not a playback URL at all;
 * `invalid-token`: under `/s/` but without a canonical signed prefix; `bad-path`: a canonical prefix
 * followed by a revision or file onair never writes (`%2e%2e`, `%2f`, dots, empty, over-long or too
 * deep). Undecoded on purpose: escapes stay literal and are refused, never resolved.
 */
export function parseSignedPath(pathname: string): SignedRequest | 'unsigned' | 'invalid-token' | 'bad-path' {
  if (!pathname.startsWith('/s/')) return 'unsigned';
  const match = SIGNED_PATH.exec(pathname);
  if (!match) return SIGNED_PREFIX.test(pathname) ? 'bad-path' : 'invalid-token';
  const [, hashText, expires, scoped, revision, file] = match as unknown as string[];
  return {
    hash: hashText!,
    expires: expires!,
    scope: scoped![1] as TokenScope,
    id: scoped!.slice(3, -1),
    revision: revision!,
    file: file!.slice(1).split('/'),
  };
}

/**
 * The key playback paths are signed with, derived from the server secret (HKDF-SHA256). An edge
 * that checks tokens holds only this: it can mint playback URLs, but not cookies, personal links
 * or the key that seals webhook secrets, which all use the server secret itself.
 */
export function playbackKey(serverSecret: string): string {
  const key = crypto.hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'onair playback tokens v1', 32);
  return Buffer.from(key).toString('base64url');
}

/** HMAC-SHA256 signed values for cookies and self-service links (never read by an edge). */
export function signValue(value: string, secret: string): string {
  const mac = crypto.createHmac('sha256', secret).update(value).digest('base64url');
  return `${value}.${mac}`;
}

export function unsignValue(signed: string, secret: string): string | undefined {
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const value = signed.slice(0, dot);
  const expected = Buffer.from(signValue(value, secret));
  const given = Buffer.from(signed);
  return given.length === expected.length && crypto.timingSafeEqual(given, expected) ? value : undefined;
}
