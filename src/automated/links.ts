import { signValue, unsignValue } from '../origin/tokens.ts';

/** Signed personal links in emails and pages. Each kind has its own prefix so one cannot stand for another. */
export type LinkKind = 'join' | 'unsub' | 'me';

export function linkToken(kind: LinkKind, registrantId: string, secret: string): string {
  return encodeURIComponent(signValue(`${kind}|${registrantId}`, secret));
}

export function readLinkToken(kind: LinkKind, token: string, secret: string): string | undefined {
  const value = unsignValue(token, secret);
  return value?.startsWith(`${kind}|`) ? value.slice(kind.length + 1) : undefined;
}

export function personalLinks(baseUrl: string, webinarId: string, registrantId: string, secret: string) {
  return {
    join: `${baseUrl}/w/${webinarId}?k=${linkToken('join', registrantId, secret)}`,
    unsubscribe: `${baseUrl}/u/${linkToken('unsub', registrantId, secret)}`,
    selfService: `${baseUrl}/me/${linkToken('me', registrantId, secret)}`,
  };
}
