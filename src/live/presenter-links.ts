import crypto from 'node:crypto';
import { openBound, signBound } from '../automated/links.ts';

/**
 * Presenter links: a guest presenter goes live from the browser without an account. A link signs
 * (with the machinery of `../automated/links.ts`)
 *
 *   present|<accountId>|<eventId>|<expires>|<print of the event's stream key>
 *
 * The print ties a link to the key it was made with: a new key (`POST /api/events/:id/stream-key`)
 * voids every link made before, a disabled key refuses them while it is disabled, and nothing is
 * stored. The token travels in the URL fragment (`#link=`), so it never reaches a server's logs.
 */
export const PRESENTER_LINK_DAYS = { min: 1, max: 30, default: 7 } as const;

/** Longer tokens are refused before any work (a real one is about 120 characters). */
export const PRESENTER_TOKEN_MAX_LENGTH = 512;

/** The first 64 bits of SHA-256 of the key: enough to tell keys apart, nothing to recover one from. */
export function streamKeyPrint(streamKey: string): string {
  return crypto.createHash('sha256').update(streamKey).digest('hex').slice(0, 16);
}

interface LinkedEvent {
  readonly account_id: string;
  readonly id: string;
  readonly stream_key: string | null;
  readonly stream_key_disabled: number;
}

export function signPresenterToken(
  event: LinkedEvent & { readonly stream_key: string },
  secret: string,
  expiresSeconds: number,
): string {
  return signBound('present', event, [streamKeyPrint(event.stream_key)], secret, expiresSeconds);
}

export function presenterLink(baseUrl: string, eventId: string, token: string): string {
  return `${baseUrl}/present/${eventId}#link=${encodeURIComponent(token)}`;
}

export interface OpenedPresenterToken {
  readonly accountId: string;
  readonly eventId: string;
  readonly keyPrint: string;
}

/**
 * An unexpired presenter token for `eventId`, checked with the secret alone (before any lookup, so
 * a bad token learns nothing about which events exist); undefined for anything else.
 */
export function openPresenterToken(
  token: string,
  eventId: string,
  secret: string,
  nowSeconds: number,
): OpenedPresenterToken | undefined {
  if (token.length > PRESENTER_TOKEN_MAX_LENGTH) return undefined;
  const opened = openBound('present', token, secret, nowSeconds);
  if (!opened || opened.eventId !== eventId || opened.fields.length !== 1) return undefined;
  return { accountId: opened.accountId, eventId: opened.eventId, keyPrint: opened.fields[0]! };
}

/** Whether an opened token still stands for the event's row: its account, its current key, enabled. */
export function presenterTokenStands(opened: OpenedPresenterToken, event: LinkedEvent): boolean {
  return (
    event.account_id === opened.accountId &&
    event.id === opened.eventId &&
    event.stream_key !== null &&
    event.stream_key_disabled === 0 &&
    streamKeyPrint(event.stream_key) === opened.keyPrint
  );
}
