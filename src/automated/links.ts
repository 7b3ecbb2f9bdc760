import { signValue, unsignValue } from '../origin/tokens.ts';

/**
 * Signed values that viewers carry (cookies, personal links in emails and pages). Each is bound to
 * its purpose, its account and its event, so one can never stand for another: a session cookie of
 * one webinar is worthless on another account's webinar, an unsubscribe link cannot open the data
 * page, and a value signed for one registrant names no one else.
 *
 *   <purpose>|<accountId>|<eventId>|<expires or ->|<field>|<field>...  "." HMAC-SHA256
 */
export type SignedPurpose =
  /** Email links: sign this browser in as the registrant (proof of the mailbox). */
  | 'join'
  /** RFC 8058 one-click unsubscribe from a webinar's emails. */
  | 'unsub'
  /** The registrant's data page (export, rectify, restrict, withdraw, erase). */
  | 'me'
  /** Cookie: this browser registered (watch access), and whether it owns the registration. */
  | 'access'
  /** Cookie: the automated-webinar session an anonymous viewer picked. */
  | 'session'
  /** A viewing the page admitted: what heartbeats must carry. */
  | 'view';

export interface Bound {
  readonly accountId: string;
  readonly id: string;
}

const FIELD = /^[A-Za-z0-9_.:-]{0,64}$/;

export function signBound(
  purpose: SignedPurpose,
  event: { readonly account_id: string; readonly id: string },
  fields: readonly string[],
  secret: string,
  expiresSeconds?: number,
): string {
  for (const f of [event.account_id, event.id, ...fields]) {
    if (!FIELD.test(f)) throw new Error(`cannot sign field ${JSON.stringify(f)}`);
  }
  const expires = expiresSeconds === undefined ? '-' : String(Math.floor(expiresSeconds));
  return signValue([purpose, event.account_id, event.id, expires, ...fields].join('|'), secret);
}

/**
 * The fields of a value signed for `purpose` on exactly this event (and its account), unexpired;
 * undefined for anything else. Never throws, whatever the input.
 */
export function readBound(
  purpose: SignedPurpose,
  token: string,
  event: { readonly account_id: string; readonly id: string },
  secret: string,
  nowSeconds: number,
): string[] | undefined {
  if (token.length > 1024) return undefined;
  const value = unsignValue(token, secret);
  if (!value) return undefined;
  const [p, accountId, eventId, expires, ...fields] = value.split('|');
  if (p !== purpose || accountId !== event.account_id || eventId !== event.id) return undefined;
  if (expires !== '-' && !(Number(expires) > nowSeconds)) return undefined;
  return fields;
}

/**
 * The event a personal link names, before its row is loaded (links carry no webinar ID in their
 * path). The caller must still check the link with `readBound` against the loaded event.
 */
export function peekBoundEvent(purpose: SignedPurpose, token: string, secret: string): string | undefined {
  if (token.length > 1024) return undefined;
  const value = unsignValue(token, secret);
  const [p, , eventId] = value?.split('|') ?? [];
  return p === purpose ? eventId : undefined;
}

/** A join link signs its browser in as the registrant: it lapses, unlike the data page and unsubscribe. */
const JOIN_LINK_DAYS = 90;

export function personalLinks(
  baseUrl: string,
  event: { readonly account_id: string; readonly id: string; readonly webinar_id: string },
  registrantId: string,
  secret: string,
  nowMs = Date.now(),
) {
  const link = (purpose: SignedPurpose, expires?: number) =>
    encodeURIComponent(signBound(purpose, event, [registrantId], secret, expires));
  const joinExpires = Math.floor(nowMs / 1000) + JOIN_LINK_DAYS * 86_400;
  return {
    join: `${baseUrl}/w/${event.webinar_id}?k=${link('join', joinExpires)}`,
    unsubscribe: `${baseUrl}/u/${link('unsub')}`,
    selfService: `${baseUrl}/me/${link('me')}`,
  };
}
