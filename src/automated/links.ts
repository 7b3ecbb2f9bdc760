import { signValue, unsignValue } from '../origin/tokens.ts';

/**
 * Signed values that viewers and guest presenters carry (cookies, personal links in emails and
 * pages, presenter links). Each is bound to
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
  | 'view'
  /** A guest presenter's link to the presenter page (`src/live/presenter-links.ts`). */
  | 'present';

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
 * A value signed for `purpose`, unexpired: its account, event and fields; undefined for anything
 * else. Never throws, whatever the input. The caller must hold the account and event to the rows
 * they name (`readBound` does, when the event is already known).
 */
export function openBound(
  purpose: SignedPurpose,
  token: string,
  secret: string,
  nowSeconds: number,
): { accountId: string; eventId: string; fields: string[] } | undefined {
  if (token.length > 1024) return undefined;
  const value = unsignValue(token, secret);
  if (!value) return undefined;
  const [p, accountId = '', eventId = '', expires, ...fields] = value.split('|');
  if (p !== purpose) return undefined;
  if (expires !== '-' && !(Number(expires) > nowSeconds)) return undefined;
  return { accountId, eventId, fields };
}

/** The fields of a value signed for `purpose` on exactly this event (and its account), unexpired. */
export function readBound(
  purpose: SignedPurpose,
  token: string,
  event: { readonly account_id: string; readonly id: string },
  secret: string,
  nowSeconds: number,
): string[] | undefined {
  const opened = openBound(purpose, token, secret, nowSeconds);
  return opened && opened.accountId === event.account_id && opened.eventId === event.id
    ? opened.fields
    : undefined;
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
