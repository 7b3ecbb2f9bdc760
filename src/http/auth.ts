import crypto from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { findAccountByApiKey, type Account } from '../db/accounts.ts';
import type { Db } from '../db/database.ts';
import type { Role } from '../db/schema.ts';
import { findSessionUser, tokenHash, type SessionUser } from '../db/users.ts';
import { HttpError } from './errors.ts';
import { readCookie } from './viewer-access.ts';

/** Who is asking: an API key (automation, the owner's rights) or a signed-in user with a role. */
export interface Principal {
  readonly account: Account;
  readonly role: Role;
  /** The signed-in user; undefined for an API key. */
  readonly user?: SessionUser;
  /** The session's token (cookie), to end it or keep it when the password changes. */
  readonly sessionToken?: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

/** `__Host-` cookies must be Secure, Path=/ and have no Domain: no subdomain can plant one. */
export function sessionCookieName(publicUrl: string): string {
  return new URL(publicUrl).protocol === 'https:' ? '__Host-onair_session' : 'onair_session';
}

export function setSessionCookie(res: Response, publicUrl: string, token: string, maxAgeMs: number): void {
  res.cookie(sessionCookieName(publicUrl), token, {
    httpOnly: true,
    sameSite: 'lax',
    secure: new URL(publicUrl).protocol === 'https:',
    path: '/',
    maxAge: maxAgeMs,
    encode: String,
  });
}

export function clearSessionCookie(res: Response, publicUrl: string): void {
  res.clearCookie(sessionCookieName(publicUrl), {
    httpOnly: true,
    sameSite: 'lax',
    secure: new URL(publicUrl).protocol === 'https:',
    path: '/',
  });
}

/** The CSRF token of a session: bound to it, so it is worthless with any other cookie. */
export function csrfToken(secret: string, sessionToken: string): string {
  return crypto
    .createHmac('sha256', secret)
    .update(`csrf|${tokenHash(sessionToken)}`)
    .digest('base64url');
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined || given.length !== expected.length) return false;
  return crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export interface AuthDeps {
  readonly db: Db;
  readonly secret: string;
  readonly publicUrl: () => string;
}

/**
 * The principal of a request, from `Authorization: Bearer <API key>` or the session cookie, or
 * undefined. A cookie counts for a write only with the session's CSRF token in `X-CSRF-Token`
 * and from a page of this origin (a browser sends cookies with requests other sites make).
 */
export async function principalOf(deps: AuthDeps, req: Request): Promise<Principal | undefined> {
  const header = req.get('authorization');
  if (header !== undefined) {
    const match = /^Bearer\s+(\S{1,512})$/i.exec(header);
    if (!match)
      throw new HttpError(401, 'unauthorized', 'Send your API key as "Authorization: Bearer <key>".');
    const account = await findAccountByApiKey(deps.db, match[1]!);
    if (!account) throw new HttpError(401, 'unauthorized', 'This API key is not valid.');
    return { account, role: 'owner' };
  }
  const token = readCookie(req, sessionCookieName(deps.publicUrl()));
  if (!token || token.length > 128) return undefined;
  const user = await findSessionUser(deps.db, token);
  if (!user) return undefined;
  if (!SAFE_METHODS.has(req.method)) {
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    if (
      (origin !== undefined && origin !== new URL(deps.publicUrl()).origin) ||
      (site !== undefined && site !== 'same-origin' && site !== 'none')
    ) {
      throw new HttpError(403, 'forbidden', "Changes are accepted only from onair's own pages.");
    }
    if (!sameToken(req.get(CSRF_HEADER), csrfToken(deps.secret, token))) {
      throw new HttpError(
        403,
        'csrf',
        "Send the session's CSRF token (from GET /api/auth/session) in the X-CSRF-Token header.",
      );
    }
  }
  return {
    account: { id: user.accountId, name: user.accountName },
    role: user.role,
    user,
    sessionToken: token,
  };
}

/**
 * Requires a principal whose role is one of `roles` (an API key counts as the owner). A closed
 * account (deletion requested) answers nothing but its reopening.
 */
export function requireRole(deps: AuthDeps, roles: readonly Role[]): RequestHandler {
  return (req, res, next) => {
    // A refused request whose body is still arriving (an upload) closes its connection: nobody
    // holds a socket open by trickling a body onair will never read into anything.
    const refuse = (err: HttpError) => {
      if (!req.complete) res.set('Connection', 'close');
      next(err);
    };
    principalOf(deps, req).then(
      (principal) => {
        if (!principal) {
          res.set('WWW-Authenticate', 'Bearer');
          return refuse(
            new HttpError(
              401,
              'unauthorized',
              'Sign in, or send your API key as "Authorization: Bearer <key>".',
            ),
          );
        }
        if (principal.user?.accountClosed) {
          return refuse(
            new HttpError(
              403,
              'account_closed',
              'This account is closed: its owner can reopen it (POST /api/account/reopen) until it is purged.',
            ),
          );
        }
        if (!roles.includes(principal.role)) {
          return refuse(
            new HttpError(
              403,
              'forbidden',
              `This needs the role ${roles.join(' or ')}; you are ${principal.role}.`,
            ),
          );
        }
        res.locals.principal = principal;
        res.locals.account = principal.account;
        next();
      },
      (err: unknown) => (err instanceof HttpError ? refuse(err) : next(err)),
    );
  };
}

/** Owners and managers: webinars, recordings, registrants, webhooks. */
export const STAFF: readonly Role[] = ['owner', 'manager'];
export const EVERYONE: readonly Role[] = ['owner', 'manager', 'presenter'];

export function accountOf(res: Response): Account {
  return res.locals.account as Account;
}

export function principalOfResponse(res: Response): Principal {
  return res.locals.principal as Principal;
}

/**
 * The operator (`onair operator-key`): as a bearer token (Prometheus, scripts) or as the password
 * of HTTP Basic authentication (a browser opening the queue dashboard; any user name).
 */
export function requireOperator(key: string): RequestHandler {
  const expected = crypto.createHash('sha256').update(key).digest();
  const matches = (given: string) =>
    crypto.timingSafeEqual(crypto.createHash('sha256').update(given).digest(), expected);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const basic = /^Basic\s+([A-Za-z0-9+/=]{1,1024})$/i.exec(header)?.[1];
    const password = basic
      ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':')
      : undefined;
    const given = bearer ?? password;
    if (given !== undefined && matches(given)) return next();
    res.set('WWW-Authenticate', 'Basic realm="onair operator", charset="UTF-8"');
    next(
      new HttpError(
        401,
        'unauthorized',
        'This needs the operator key (`onair operator-key`): as "Authorization: Bearer <key>", or as the password when the browser asks.',
      ),
    );
  };
}

/**
 * Browsers send Basic credentials with any request to this origin, even one another site makes:
 * a write must come from a page of this origin (Origin header, or Sec-Fetch-Site) to count.
 */
export function sameOriginWrites(publicUrl: () => string): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    const ours = new URL(publicUrl()).origin;
    if (
      (origin !== undefined && origin !== ours) ||
      (site !== undefined && site !== 'same-origin' && site !== 'none')
    )
      return next(new HttpError(403, 'forbidden', "Changes are accepted only from onair's own pages."));
    next();
  };
}
