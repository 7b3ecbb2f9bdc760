import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (
  password: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  keylen: number,
  options: crypto.ScryptOptions,
) => Promise<Buffer>;

/**
 * scrypt (RFC 7914) with OWASP's minimum: N = 2^17, r = 8, p = 1 (128 MiB, ~0.3 s here) would
 * make 20 sign-ins at once need 2.5 GB; N = 2^15 (32 MiB) is the interactive-login figure of
 * the scrypt paper and runs on libuv's thread pool, never on the event loop.
 */
const LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const MAX_MEM = 128 * 2 ** LOG_N * R * 2;

/** Bounds of a password anyone may choose (NIST SP 800-63B: at least 8, allow long passphrases). */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password.normalize('NFC'), salt, KEY_BYTES, {
    N: 2 ** LOG_N,
    r: R,
    p: P,
    maxmem: MAX_MEM,
  });
  return ['scrypt', LOG_N, R, P, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** A hash of a password nobody knows: checked when the email is unknown, so both take the same time. */
const DECOY = hashPassword(crypto.randomBytes(32).toString('base64url'));

/**
 * Whether `password` matches `stored` (constant-time comparison). With `stored` undefined (no such
 * user) a decoy hash is checked instead and the answer is false: an unknown email takes as long
 * as a wrong password.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parts = (stored ?? (await DECOY)).split('$');
  const [kind, logN, r, p, salt, hash] = parts;
  if (parts.length !== 6 || kind !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const given = await scrypt(password.normalize('NFC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: 2 ** Number(logN),
    r: Number(r),
    p: Number(p),
    maxmem: MAX_MEM,
  });
  return crypto.timingSafeEqual(given, expected) && stored !== undefined;
}
