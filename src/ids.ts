import crypto from 'node:crypto';

/** Unguessable identifiers: a short type prefix and 96 random bits, URL-safe. */
export function newId(prefix: 'acc' | 'key' | 'as' | 'rev'): string {
  return `${prefix}_${crypto.randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export function nowIso(): string {
  return new Date().toISOString();
}
