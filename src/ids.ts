import crypto from 'node:crypto';

/** Unguessable identifiers: a short type prefix and 96 random bits, URL-safe. */
export function newId(
  prefix: 'acc' | 'key' | 'as' | 'rev' | 'ev' | 'rg' | 'cs' | 'wh' | 'whsec' | 'ck' | 'usr' | 'inv' | 'up',
): string {
  return `${prefix}_${crypto.randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** A presenter's RTMP stream key: 192 random bits in the characters every encoder accepts. */
export function newStreamKey(): string {
  return `live_${crypto.randomBytes(24).toString('base64url')}`;
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** A random 9-digit webinar ID (100000000-999999999): typed by viewers, so digits only. */
export function newWebinarId(): string {
  return String(crypto.randomInt(100_000_000, 1_000_000_000));
}

export function formatWebinarId(id: string): string {
  return `${id.slice(0, 3)}-${id.slice(3, 6)}-${id.slice(6)}`;
}

/** Accepts what viewers type: `123-456-789`, `123 456 789`, `123456789`. */
export function parseWebinarId(text: string): string | undefined {
  const digits = text.replace(/[\s-]/g, '');
  return /^[1-9]\d{8}$/.test(digits) ? digits : undefined;
}
