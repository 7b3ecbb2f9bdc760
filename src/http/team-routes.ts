import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { sql } from 'kysely';
import { z } from 'zod';
import {
  ACCOUNT_GRACE_DAYS,
  countApiKeys,
  createAccount,
  createApiKey,
  findAccountByApiKey,
  findAccountRow,
  listApiKeys,
  revokeApiKey,
  setAccountClosed,
} from '../db/accounts.ts';
import { databaseKind, type Db } from '../db/database.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { findAccountEvent } from '../db/events.ts';
import {
  acceptInvitation,
  assignPresenter,
  countAccountUsers,
  createSession,
  deleteInvitation,
  deleteSession,
  deleteUser,
  eventPresenters,
  findAccountUser,
  findInvitation,
  findUserByEmail,
  insertInvitation,
  insertUser,
  listAccountUsers,
  listPendingInvitations,
  normalEmail,
  presentedEventIds,
  presents,
  SESSION_MAX_DAYS,
  setEventPresenters,
  setUserPassword,
  setUserRole,
  tokenHash,
  type UserRow,
} from '../db/users.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import { hashPassword, PASSWORD_MAX, PASSWORD_MIN, verifyPassword } from '../services/passwords.ts';
import { openTeamToken, passwordPrint, RESET_LINK_MINUTES } from '../team/links.ts';
import {
  clearSessionCookie,
  csrfToken,
  principalOf,
  principalOfResponse,
  requireRole,
  setSessionCookie,
  STAFF,
  type AuthDeps,
  type Principal,
} from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';

export interface TeamRoutesDeps extends AuthDeps {
  readonly queues: JobQueues;
  readonly signup: 'invite-only' | 'open';
  readonly rateLimit: (key: string, limit: number, windowSeconds: number) => Promise<boolean>;
}

const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ error: 'must be an email address' }));
const Password = z
  .string()
  .min(PASSWORD_MIN, { error: `must be at least ${PASSWORD_MIN} characters` })
  .max(PASSWORD_MAX, { error: `must be at most ${PASSWORD_MAX} characters` });
const Name = z.string().trim().min(1).max(120);
const Roles = z.enum(['owner', 'manager', 'presenter'], { error: 'must be owner, manager or presenter' });
const Id = z.string().regex(/^[a-z]{2,5}_[A-Za-z0-9]{16}$/, { error: 'is not an id' });
const EventIds = z.array(Id).max(200);
/** A signed token from a mail link (the app pages post it from the URL fragment). */
const Token = z.string().min(1).max(512);

function hashed(value: string): string {
  return crypto.createHash('sha256').update(value).digest('hex').slice(0, 32);
}

function memberView(user: UserRow, events?: readonly string[]) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    createdAt: user.created_at,
    ...(events ? { eventIds: events } : {}),
  };
}

/**
 * Sign-in, sessions, password resets and invitations (`/api/auth`, public), the team and the API
 * keys (`/api/team`, `/api/keys`: owners), closing the account (`/api/account`: owners) and who
 * presents an event (`/api/events/:id/presenters`: owners and managers).
 */
export function teamRoutes(deps: TeamRoutesDeps): Router {
  const { db } = deps;
  const router = Router();
  const owners = requireRole(deps, ['owner']);
  const staff = requireRole(deps, STAFF);

  async function limited(key: string, limit: number, windowSeconds: number): Promise<void> {
    if (!(await deps.rateLimit(key, limit, windowSeconds))) {
      throw new HttpError(429, 'rate_limited', 'Too many attempts: wait a few minutes and try again.');
    }
  }

  /** Signs `user` in: a new session, its cookie, and what the app needs to know. */
  async function signIn(res: Response, user: UserRow) {
    const token = await createSession(db, user.id);
    setSessionCookie(res, deps.publicUrl(), token, SESSION_MAX_DAYS * 86_400_000);
    return sessionView(user, token);
  }

  async function sessionView(user: UserRow, token: string) {
    const account = await findAccountRow(db, user.account_id);
    return {
      user: { id: user.id, email: user.email, name: user.name },
      role: user.role,
      account: {
        id: user.account_id,
        name: account?.name ?? '',
        closed: Boolean(account?.deletion_requested_at),
      },
      csrfToken: csrfToken(deps.secret, token),
    };
  }

  async function signedIn(req: Request): Promise<Principal & { user: NonNullable<Principal['user']> }> {
    const principal = await principalOf(deps, req);
    if (!principal?.user) throw new HttpError(401, 'unauthorized', 'Sign in first.');
    return principal as Principal & { user: NonNullable<Principal['user']> };
  }

  // ---- /api/auth: sign-up, sign-in, sessions ----

  router.post('/api/auth/signup', async (req, res) => {
    await limited(`signup:${req.ip ?? 'unknown'}`, 10, 3600);
    const body = parseOr400(
      z.object({
        email: Email,
        name: Name,
        password: Password,
        /** Claims the account of this key (the key printed at first start, or ONAIR_API_KEY). */
        apiKey: z.string().min(1).max(512).optional(),
        /** The name of a new account (open sign-up). */
        accountName: Name.optional(),
      }),
      req.body,
      'body',
    );
    // Whether an address has a sign-in is told only to someone allowed to sign up at all.
    let claimed: string | undefined;
    if (body.apiKey !== undefined) {
      const account = await findAccountByApiKey(db, body.apiKey);
      if (!account) throw new HttpError(401, 'unauthorized', 'This API key is not valid.');
      if ((await countAccountUsers(db, account.id, 'owner')) > 0) {
        throw new HttpError(
          409,
          'has_owner',
          'This account already has an owner: ask them for an invitation.',
        );
      }
      claimed = account.id;
    } else if (deps.signup !== 'open') {
      throw new HttpError(
        403,
        'signup_closed',
        'Sign-up is by invitation on this server. To claim the first account, give the API key printed at first start (or ONAIR_API_KEY) as apiKey.',
      );
    } else if (!body.accountName) {
      throw new HttpError(400, 'invalid_request', 'Invalid body: accountName is required');
    }
    const passwordHash = await hashPassword(body.password);
    // The account (open sign-up) and its owner in one transaction: a taken address makes neither.
    const user = await db
      .transaction()
      .execute(async (tx) => {
        const accountId = claimed ?? (await createAccount(tx, body.accountName!)).id;
        return insertUser(tx, { accountId, email: body.email, name: body.name, role: 'owner', passwordHash });
      })
      .catch((err: unknown) => {
        throw isUniqueViolation(err)
          ? new HttpError(
              409,
              'email_taken',
              'This email already has an onair sign-in: sign in, or reset the password.',
            )
          : err;
      });
    res.status(201).json(await signIn(res, user));
  });

  router.post('/api/auth/login', async (req, res) => {
    const body = parseOr400(
      z.object({ email: z.string().max(254), password: z.string().max(PASSWORD_MAX) }),
      req.body,
      'body',
    );
    await limited(`login-ip:${req.ip ?? 'unknown'}`, 30, 60);
    // Per address and client: someone else's wrong guesses cannot lock a user out.
    await limited(`login:${hashed(normalEmail(body.email))}:${req.ip ?? 'unknown'}`, 10, 15 * 60);
    const user = await findUserByEmail(db, body.email);
    // An unknown email costs as much as a wrong password, and answers the same.
    if (!(await verifyPassword(body.password, user?.password_hash)) || !user) {
      throw new HttpError(401, 'unauthorized', 'The email or the password is wrong.');
    }
    res.json(await signIn(res, user));
  });

  router.post('/api/auth/logout', async (req, res) => {
    const principal = await principalOf(deps, req);
    if (principal?.sessionToken) await deleteSession(db, principal.sessionToken);
    clearSessionCookie(res, deps.publicUrl());
    res.status(204).end();
  });

  router.get('/api/auth/session', async (req, res) => {
    const principal = await signedIn(req);
    const user = await findAccountUser(db, principal.account.id, principal.user.id);
    if (!user) throw new HttpError(401, 'unauthorized', 'Sign in first.');
    res.set('Cache-Control', 'no-store').json(await sessionView(user, principal.sessionToken!));
  });

  router.post('/api/auth/password', async (req, res) => {
    const principal = await signedIn(req);
    const body = parseOr400(
      z.object({ currentPassword: z.string().max(PASSWORD_MAX), newPassword: Password }),
      req.body,
      'body',
    );
    await limited(`password:${principal.user.id}`, 10, 15 * 60);
    if (!(await verifyPassword(body.currentPassword, principal.user.passwordHash))) {
      throw new HttpError(403, 'wrong_password', 'The current password is wrong.');
    }
    // Every other session of this user ends.
    await setUserPassword(
      db,
      principal.user.id,
      await hashPassword(body.newPassword),
      tokenHash(principal.sessionToken!),
    );
    res.status(204).end();
  });

  router.post('/api/auth/password-reset', async (req, res) => {
    const body = parseOr400(z.object({ email: Email }), req.body, 'body');
    await limited(`reset-ip:${req.ip ?? 'unknown'}`, 10, 3600);
    await limited(`reset:${hashed(normalEmail(body.email))}`, 3, 3600);
    const user = await findUserByEmail(db, body.email);
    if (user) {
      const expiresMs = Date.now() + RESET_LINK_MINUTES * 60_000;
      await deps.queues.add(
        'send-team-mail',
        { kind: 'password-reset', id: user.id, expiresMs, baseUrl: deps.publicUrl() },
        `reset-${user.id}-${expiresMs}`,
      );
    }
    // The same answer whether or not the address has a sign-in.
    res.status(202).json({ message: 'If this address has an onair sign-in, a reset link is on its way.' });
  });

  router.post('/api/auth/password-reset/confirm', async (req, res) => {
    const body = parseOr400(z.object({ token: Token, password: Password }), req.body, 'body');
    const opened = openTeamToken('reset', body.token, deps.secret);
    const user = opened ? await findAccountUser(db, opened.accountId, opened.objectId) : undefined;
    if (!opened || !user || opened.extra !== passwordPrint(user.password_hash)) {
      throw new HttpError(400, 'invalid_token', 'This reset link is not valid any more: ask for a new one.');
    }
    // Every session of this user ends: whoever knew the old password is out.
    await setUserPassword(db, user.id, await hashPassword(body.password));
    res.status(204).end();
  });

  async function pendingInvitation(token: string) {
    const opened = openTeamToken('invite', token, deps.secret);
    const invitation = opened ? await findInvitation(db, opened.objectId) : undefined;
    if (
      !opened ||
      !invitation ||
      invitation.account_id !== opened.accountId ||
      invitation.accepted_at ||
      Date.parse(invitation.expires_at) <= Date.now()
    ) {
      throw new HttpError(
        400,
        'invalid_token',
        'This invitation is not valid any more (used, withdrawn or expired): ask for a new one.',
      );
    }
    return invitation;
  }

  router.post('/api/auth/invitation', async (req, res) => {
    const body = parseOr400(z.object({ token: Token }), req.body, 'body');
    const invitation = await pendingInvitation(body.token);
    const account = await findAccountRow(db, invitation.account_id);
    res.json({ email: invitation.email, role: invitation.role, accountName: account?.name ?? '' });
  });

  router.post('/api/auth/invitation/accept', async (req, res) => {
    const body = parseOr400(z.object({ token: Token, name: Name, password: Password }), req.body, 'body');
    const invitation = await pendingInvitation(body.token);
    if (await findUserByEmail(db, invitation.email)) {
      throw new HttpError(409, 'email_taken', 'This email already has an onair sign-in: sign in with it.');
    }
    const user = await acceptInvitation(db, invitation, {
      name: body.name,
      passwordHash: await hashPassword(body.password),
    }).catch((err: unknown) => {
      // The same address signed up elsewhere meanwhile.
      throw isUniqueViolation(err)
        ? new HttpError(409, 'email_taken', 'This email already has an onair sign-in: sign in with it.')
        : err;
    });
    if (!user) throw new HttpError(400, 'invalid_token', 'This invitation was used or withdrawn meanwhile.');
    res.status(201).json(await signIn(res, user));
  });

  // ---- /api/team: owners manage who is in the account ----

  router.get('/api/team', owners, async (_req, res) => {
    const account = principalOfResponse(res).account;
    const users = await listAccountUsers(db, account.id);
    const members = await Promise.all(
      users.map(async (u) =>
        memberView(u, u.role === 'presenter' ? await presentedEventIds(db, u.id) : undefined),
      ),
    );
    const invitations = await listPendingInvitations(db, account.id, new Date().toISOString());
    res.set('Cache-Control', 'no-store').json({
      members,
      invitations: invitations.map((i) => ({
        id: i.id,
        email: i.email,
        role: i.role,
        eventIds: JSON.parse(i.event_ids_json) as string[],
        createdAt: i.created_at,
        expiresAt: i.expires_at,
      })),
    });
  });

  router.post('/api/team/invitations', owners, async (req, res) => {
    const principal = principalOfResponse(res);
    const body = parseOr400(
      z.object({ email: Email, role: Roles, eventIds: EventIds.default([]) }),
      req.body,
      'body',
    );
    await limited(`invite:${principal.account.id}`, 50, 3600);
    await ownEvents(principal.account.id, body.eventIds);
    if (await findUserByEmail(db, body.email)) {
      throw new HttpError(409, 'email_taken', 'This email already has an onair sign-in.');
    }
    // Inviting the same address again replaces the earlier invitation (and its link).
    for (const pending of await listPendingInvitations(db, principal.account.id, new Date().toISOString())) {
      if (pending.email === normalEmail(body.email))
        await deleteInvitation(db, principal.account.id, pending.id);
    }
    const invitation = await insertInvitation(db, {
      accountId: principal.account.id,
      email: body.email,
      role: body.role,
      eventIds: body.eventIds,
      invitedBy: principal.user?.id ?? null,
    });
    await deps.queues.add(
      'send-team-mail',
      { kind: 'invitation', id: invitation.id, baseUrl: deps.publicUrl() },
      `invitation-${invitation.id}`,
    );
    res.status(201).json({
      id: invitation.id,
      email: invitation.email,
      role: invitation.role,
      eventIds: body.eventIds,
      expiresAt: invitation.expires_at,
    });
  });

  router.delete('/api/team/invitations/:id', owners, async (req, res) => {
    const id = parseOr400(Id, req.params.id, 'invitation id');
    if (!(await deleteInvitation(db, principalOfResponse(res).account.id, id))) {
      throw new HttpError(404, 'not_found', `No pending invitation ${id} in this account.`);
    }
    res.status(204).end();
  });

  async function member(req: Request, res: Response): Promise<UserRow> {
    const id = parseOr400(Id, req.params.id, 'member id');
    const user = await findAccountUser(db, principalOfResponse(res).account.id, id);
    if (!user) throw new HttpError(404, 'not_found', `No member ${id} in this account.`);
    return user;
  }

  /**
   * Applies a change to the team and keeps at least one owner: the change and the count run in one
   * transaction, under a lock of the account row on PostgreSQL (two owners demoting each other at
   * once leave one). SQLite runs one write transaction at a time.
   */
  async function keepingAnOwner(accountId: string, change: (tx: Db) => Promise<void>): Promise<void> {
    await db.transaction().execute(async (tx) => {
      if (databaseKind(db) === 'postgres') {
        await sql`select id from accounts where id = ${accountId} for update`.execute(tx);
      }
      await change(tx);
      if ((await countAccountUsers(tx, accountId, 'owner')) < 1) {
        throw new HttpError(
          409,
          'last_owner',
          'An account keeps at least one owner: make someone else owner first.',
        );
      }
    });
  }

  async function ownEvents(accountId: string, eventIds: readonly string[]): Promise<void> {
    for (const id of eventIds) {
      if (!(await findAccountEvent(db, accountId, id))) {
        throw new HttpError(
          400,
          'invalid_request',
          `Invalid body: eventIds names ${id}, which is not an event of this account`,
        );
      }
    }
  }

  router.patch('/api/team/members/:id', owners, async (req, res) => {
    const user = await member(req, res);
    const body = parseOr400(
      z.object({ role: Roles.optional(), eventIds: EventIds.optional() }).strict(),
      req.body,
      'body',
    );
    await ownEvents(user.account_id, body.eventIds ?? []);
    if (body.role !== undefined && body.role !== user.role) {
      await keepingAnOwner(user.account_id, (tx) => setUserRole(tx, user.id, body.role!));
    }
    if (body.eventIds !== undefined) {
      await db.deleteFrom('event_presenters').where('user_id', '=', user.id).execute();
      await assignPresenter(db, user.account_id, user.id, body.eventIds);
    }
    const updated = (await findAccountUser(db, user.account_id, user.id))!;
    res.json(
      memberView(updated, updated.role === 'presenter' ? await presentedEventIds(db, user.id) : undefined),
    );
  });

  router.delete('/api/team/members/:id', owners, async (req, res) => {
    const user = await member(req, res);
    await keepingAnOwner(user.account_id, (tx) => deleteUser(tx, user.id));
    res.status(204).end();
  });

  // ---- /api/keys: API keys for automation (owners) ----

  router.get('/api/keys', owners, async (_req, res) => {
    res
      .set('Cache-Control', 'no-store')
      .json({ keys: await listApiKeys(db, principalOfResponse(res).account.id) });
  });

  router.post('/api/keys', owners, async (req, res) => {
    const body = parseOr400(z.object({ label: Name }), req.body, 'body');
    const accountId = principalOfResponse(res).account.id;
    if ((await countApiKeys(db, accountId)) >= 100) {
      throw new HttpError(409, 'too_many_keys', 'This account has 100 API keys: revoke some first.');
    }
    const { key, info } = await createApiKey(db, accountId, body.label);
    // The key is shown once: only its hash is kept.
    res
      .status(201)
      .set('Cache-Control', 'no-store')
      .json({ ...info, key });
  });

  router.delete('/api/keys/:id', owners, async (req, res) => {
    const id = parseOr400(Id, req.params.id, 'key id');
    if (!(await revokeApiKey(db, principalOfResponse(res).account.id, id))) {
      throw new HttpError(404, 'not_found', `No API key ${id} in this account.`);
    }
    res.status(204).end();
  });

  // ---- /api/account: closing and reopening (owners) ----

  function accountView(row: { id: string; name: string; deletion_requested_at: string | null }) {
    const closedAt = row.deletion_requested_at;
    return {
      id: row.id,
      name: row.name,
      closed: closedAt !== null,
      closedAt,
      purgeAt: closedAt
        ? new Date(Date.parse(closedAt) + ACCOUNT_GRACE_DAYS * 86_400_000).toISOString()
        : null,
    };
  }

  router.get('/api/account', owners, async (_req, res) => {
    const row = await findAccountRow(db, principalOfResponse(res).account.id);
    res.set('Cache-Control', 'no-store').json(accountView(row!));
  });

  router.delete('/api/account', owners, async (req, res) => {
    const account = principalOfResponse(res).account;
    const body = parseOr400(z.object({ confirm: z.string().max(200) }), req.body ?? {}, 'body');
    if (body.confirm !== account.name) {
      throw new HttpError(
        400,
        'invalid_request',
        `Invalid body: confirm must be the account's name (${account.name})`,
      );
    }
    await setAccountClosed(db, account.id, true);
    res.json(accountView((await findAccountRow(db, account.id))!));
  });

  // The one thing a closed account may do: its owner, signed in, reopens it.
  router.post('/api/account/reopen', async (req, res) => {
    const principal = await signedIn(req);
    if (principal.role !== 'owner')
      throw new HttpError(403, 'forbidden', 'Only an owner can reopen the account.');
    const row = await findAccountRow(db, principal.account.id);
    const closedAt = row?.deletion_requested_at;
    if (closedAt && Date.parse(closedAt) + ACCOUNT_GRACE_DAYS * 86_400_000 <= Date.now()) {
      throw new HttpError(409, 'purging', 'The grace period is over: this account is being purged.');
    }
    await setAccountClosed(db, principal.account.id, false);
    res.json(accountView((await findAccountRow(db, principal.account.id))!));
  });

  // ---- who presents an event (owners and managers) ----

  router.get('/api/events/:id/presenters', staff, async (req, res) => {
    const event = await staffEvent(req, res);
    res.json({ presenters: (await eventPresenters(db, event.id)).map((u) => memberView(u)) });
  });

  router.put('/api/events/:id/presenters', staff, async (req, res) => {
    const event = await staffEvent(req, res);
    const body = parseOr400(z.object({ userIds: z.array(Id).max(50) }), req.body, 'body');
    const ids = [...new Set(body.userIds)];
    for (const id of ids) {
      if (!(await findAccountUser(db, event.account_id, id))) {
        throw new HttpError(
          400,
          'invalid_request',
          `Invalid body: userIds names ${id}, who is not in this account`,
        );
      }
    }
    await setEventPresenters(db, event.id, ids);
    res.json({ presenters: (await eventPresenters(db, event.id)).map((u) => memberView(u)) });
  });

  async function staffEvent(req: Request, res: Response) {
    const id = parseOr400(Id, req.params.id, 'event id');
    const event = await findAccountEvent(db, principalOfResponse(res).account.id, id);
    if (!event) throw new HttpError(404, 'not_found', `No event ${id} in this account.`);
    return event;
  }

  return router;
}

/**
 * What a presenter may do under /api/events: list and read the events they present, read their
 * live health and end their stream. Anything else is refused; someone else's event is "not found".
 */
export function presenterScope(db: Db) {
  const allowed: readonly (readonly [string, RegExp])[] = [
    ['GET', /^\/$/],
    ['GET', /^\/([^/]+)$/],
    ['GET', /^\/([^/]+)\/live$/],
    ['POST', /^\/([^/]+)\/end$/],
  ];
  return (req: Request, res: Response, next: (err?: unknown) => void): void => {
    const principal = principalOfResponse(res);
    if (principal.role !== 'presenter') return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const match = allowed.find(([m, re]) => m === method && re.test(req.path));
    if (!match) {
      return next(
        new HttpError(
          403,
          'forbidden',
          'A presenter can only see the events they present and their stream settings.',
        ),
      );
    }
    const eventId = match[1].exec(req.path)?.[1];
    const userId = principal.user!.id;
    const check = eventId
      ? presents(db, userId, eventId).then((ok) => {
          if (!ok) throw new HttpError(404, 'not_found', `No event ${eventId} in this account.`);
        })
      : presentedEventIds(db, userId).then((ids) => {
          res.locals.onlyEvents = ids;
        });
    check.then(() => next(), next);
  };
}
