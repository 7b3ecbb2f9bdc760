import crypto from 'node:crypto';
import { signValue, unsignValue } from '../origin/tokens.ts';

/**
 * Signed links of the team mails, each bound to its purpose, its account and its object:
 *   invite|<accountId>|<invitationId>|<expires>            (the invitation row must still be pending)
 *   reset|<accountId>|<userId>|<expires>|<password print>  (void once the password changes)
 * Nothing secret is stored or queued: the worker that mails a link signs it from the row.
 */
export type TeamLinkPurpose = 'invite' | 'reset';

/** How long a password-reset link works. */
export const RESET_LINK_MINUTES = 60;

/** A print of the password hash: a reset link stops working once the password has changed. */
export function passwordPrint(passwordHash: string): string {
  return crypto.createHash('sha256').update(passwordHash).digest('base64url').slice(0, 16);
}

export function signTeamToken(
  purpose: TeamLinkPurpose,
  accountId: string,
  objectId: string,
  expiresMs: number,
  secret: string,
  extra?: string,
): string {
  const fields = [purpose, accountId, objectId, String(Math.floor(expiresMs / 1000))];
  if (extra !== undefined) fields.push(extra);
  return signValue(fields.join('|'), secret);
}

/** The account, object and extra field of an unexpired token for `purpose`; undefined otherwise. */
export function openTeamToken(
  purpose: TeamLinkPurpose,
  token: string,
  secret: string,
  nowMs = Date.now(),
): { accountId: string; objectId: string; extra: string | undefined } | undefined {
  if (token.length > 512) return undefined;
  const value = unsignValue(token, secret);
  if (!value) return undefined;
  const [p, accountId, objectId, expires, extra] = value.split('|');
  if (p !== purpose || !accountId || !objectId || !(Number(expires) * 1000 > nowMs)) return undefined;
  return { accountId, objectId, extra };
}

/** App pages read the token from the fragment: it never reaches a server's or a proxy's logs. */
export function invitationLink(baseUrl: string, token: string): string {
  return `${baseUrl}/admin/invitation#token=${encodeURIComponent(token)}`;
}

export function resetLink(baseUrl: string, token: string): string {
  return `${baseUrl}/admin/reset#token=${encodeURIComponent(token)}`;
}
