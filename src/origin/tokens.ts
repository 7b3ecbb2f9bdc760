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

export function scopePrefix(scope: TokenScope, id: string): string {
  return `/${scope}/${id}/`;
}

function hash(expires: number, prefix: string, secret: string): string {
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
  const prefix = scopePrefix(scope, id);
  return `/s/${hash(expires, prefix, secret)}/${expires}${prefix}${rest}`;
}

export type TokenCheck = 'ok' | 'expired' | 'invalid';

export function checkToken(
  token: string,
  expires: string,
  scope: TokenScope,
  id: string,
  secret: string,
  nowSeconds: number,
): TokenCheck {
  if (!/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{22}$/.test(token)) return 'invalid';
  const expected = Buffer.from(hash(Number(expires), scopePrefix(scope, id), secret));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return 'invalid';
  return Number(expires) < nowSeconds ? 'expired' : 'ok';
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
