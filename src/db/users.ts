import crypto from 'node:crypto';
import { newId, nowIso } from '../ids.ts';
import type { Db } from './database.ts';
import type { InvitationsTable, Role, UsersTable } from './schema.ts';

export type UserRow = UsersTable;
export type InvitationRow = InvitationsTable;

/** A signed-in user, as requests see them. */
export interface SessionUser {
  readonly id: string;
  readonly accountId: string;
  readonly accountName: string;
  readonly email: string;
  readonly name: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly accountClosed: boolean;
}

/** How long a session lasts without use, and at most. */
export const SESSION_IDLE_DAYS = 14;
export const SESSION_MAX_DAYS = 30;
/** last_seen_at is written at most this often (one write per request would be a write per click). */
const SEEN_EVERY_MS = 5 * 60_000;

export function tokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', normalEmail(email)).executeTakeFirst();
}

export async function findAccountUser(
  db: Db,
  accountId: string,
  userId: string,
): Promise<UserRow | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('id', '=', userId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
}

export async function insertUser(
  db: Db,
  user: { accountId: string; email: string; name: string; role: Role; passwordHash: string },
): Promise<UserRow> {
  const now = nowIso();
  const row: UserRow = {
    id: newId('usr'),
    account_id: user.accountId,
    email: normalEmail(user.email),
    name: user.name,
    role: user.role,
    password_hash: user.passwordHash,
    created_at: now,
    password_changed_at: now,
  };
  await db.insertInto('users').values(row).execute();
  return row;
}

export async function listAccountUsers(db: Db, accountId: string): Promise<UserRow[]> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(1000)
    .execute();
}

export async function countAccountUsers(db: Db, accountId: string, role?: Role): Promise<number> {
  let q = db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('account_id', '=', accountId);
  if (role) q = q.where('role', '=', role);
  return Number((await q.executeTakeFirstOrThrow()).n);
}

export async function setUserRole(db: Db, userId: string, role: Role): Promise<void> {
  await db.updateTable('users').set({ role }).where('id', '=', userId).execute();
}

/** A new password: every session of the user ends, except `keepTokenHash` (the one that changed it). */
export async function setUserPassword(
  db: Db,
  userId: string,
  passwordHash: string,
  keepTokenHash?: string,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({ password_hash: passwordHash, password_changed_at: nowIso() })
      .where('id', '=', userId)
      .execute();
    let q = tx.deleteFrom('user_sessions').where('user_id', '=', userId);
    if (keepTokenHash) q = q.where('token_hash', '!=', keepTokenHash);
    await q.execute();
  });
}

export async function deleteUser(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', userId).execute();
}

// ---- sessions ----

/** A new session for `userId`: the cookie's token (returned once; only its hash is stored). */
export async function createSession(db: Db, userId: string, nowMs = Date.now()): Promise<string> {
  const token = crypto.randomBytes(32).toString('base64url');
  const now = new Date(nowMs).toISOString();
  await db
    .insertInto('user_sessions')
    .values({
      token_hash: tokenHash(token),
      user_id: userId,
      created_at: now,
      last_seen_at: now,
      expires_at: new Date(nowMs + SESSION_MAX_DAYS * 86_400_000).toISOString(),
    })
    .execute();
  return token;
}

/** The user of a live session token (idle and absolute expiry applied), or undefined. */
export async function findSessionUser(
  db: Db,
  token: string,
  nowMs = Date.now(),
): Promise<SessionUser | undefined> {
  const hash = tokenHash(token);
  const row = await db
    .selectFrom('user_sessions')
    .innerJoin('users', 'users.id', 'user_sessions.user_id')
    .innerJoin('accounts', 'accounts.id', 'users.account_id')
    .select([
      'user_sessions.expires_at',
      'user_sessions.last_seen_at',
      'users.id',
      'users.account_id',
      'users.email',
      'users.name',
      'users.role',
      'users.password_hash',
      'accounts.name as account_name',
      'accounts.deletion_requested_at',
    ])
    .where('user_sessions.token_hash', '=', hash)
    .executeTakeFirst();
  if (!row) return undefined;
  const lastSeen = Date.parse(row.last_seen_at);
  if (Date.parse(row.expires_at) <= nowMs || lastSeen + SESSION_IDLE_DAYS * 86_400_000 <= nowMs) {
    await db.deleteFrom('user_sessions').where('token_hash', '=', hash).execute();
    return undefined;
  }
  if (nowMs - lastSeen > SEEN_EVERY_MS) {
    await db
      .updateTable('user_sessions')
      .set({ last_seen_at: new Date(nowMs).toISOString() })
      .where('token_hash', '=', hash)
      .execute();
  }
  return {
    id: row.id,
    accountId: row.account_id,
    accountName: row.account_name,
    email: row.email,
    name: row.name,
    role: row.role,
    passwordHash: row.password_hash,
    accountClosed: row.deletion_requested_at !== null,
  };
}

export async function deleteSession(db: Db, token: string): Promise<void> {
  await db.deleteFrom('user_sessions').where('token_hash', '=', tokenHash(token)).execute();
}

export async function deleteUserSessions(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('user_sessions').where('user_id', '=', userId).execute();
}

// ---- invitations ----

export const INVITATION_DAYS = 7;

export async function insertInvitation(
  db: Db,
  inv: {
    accountId: string;
    email: string;
    role: Role;
    eventIds: readonly string[];
    invitedBy: string | null;
  },
  nowMs = Date.now(),
): Promise<InvitationRow> {
  const row: InvitationRow = {
    id: newId('inv'),
    account_id: inv.accountId,
    email: normalEmail(inv.email),
    role: inv.role,
    event_ids_json: JSON.stringify(inv.eventIds),
    invited_by: inv.invitedBy,
    created_at: new Date(nowMs).toISOString(),
    expires_at: new Date(nowMs + INVITATION_DAYS * 86_400_000).toISOString(),
    accepted_at: null,
  };
  await db.insertInto('invitations').values(row).execute();
  return row;
}

export async function findInvitation(db: Db, id: string): Promise<InvitationRow | undefined> {
  return db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listPendingInvitations(
  db: Db,
  accountId: string,
  nowIso: string,
): Promise<InvitationRow[]> {
  return db
    .selectFrom('invitations')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('accepted_at', 'is', null)
    .where('expires_at', '>', nowIso)
    .orderBy('created_at')
    .limit(1000)
    .execute();
}

export async function deleteInvitation(db: Db, accountId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('invitations')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .where('accepted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * Accepts an invitation: the user is made and the invitation marked, in one transaction (two
 * clicks on the link make one user). Undefined when it was accepted or withdrawn meanwhile.
 */
export async function acceptInvitation(
  db: Db,
  inv: InvitationRow,
  user: { name: string; passwordHash: string },
): Promise<UserRow | undefined> {
  return db.transaction().execute(async (tx) => {
    const marked = await tx
      .updateTable('invitations')
      .set({ accepted_at: nowIso() })
      .where('id', '=', inv.id)
      .where('accepted_at', 'is', null)
      .executeTakeFirst();
    if (Number(marked.numUpdatedRows) !== 1) return undefined;
    const row = await insertUser(tx, {
      accountId: inv.account_id,
      email: inv.email,
      name: user.name,
      role: inv.role,
      passwordHash: user.passwordHash,
    });
    const eventIds = JSON.parse(inv.event_ids_json) as string[];
    await assignPresenter(tx, inv.account_id, row.id, eventIds);
    return row;
  });
}

// ---- presenters ----

/** Events (of this account) `userId` presents from now on; ids of other accounts are ignored. */
export async function assignPresenter(
  db: Db,
  accountId: string,
  userId: string,
  eventIds: readonly string[],
): Promise<void> {
  if (eventIds.length === 0) return;
  const own = await db
    .selectFrom('events')
    .select('id')
    .where('account_id', '=', accountId)
    .where('id', 'in', [...eventIds])
    .execute();
  if (own.length === 0) return;
  await db
    .insertInto('event_presenters')
    .values(own.map((e) => ({ event_id: e.id, user_id: userId })))
    .onConflict((oc) => oc.columns(['event_id', 'user_id']).doNothing())
    .execute();
}

export async function setEventPresenters(db: Db, eventId: string, userIds: readonly string[]): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('event_presenters').where('event_id', '=', eventId).execute();
    if (userIds.length > 0) {
      await tx
        .insertInto('event_presenters')
        .values(userIds.map((user_id) => ({ event_id: eventId, user_id })))
        .onConflict((oc) => oc.columns(['event_id', 'user_id']).doNothing())
        .execute();
    }
  });
}

export async function eventPresenters(db: Db, eventId: string): Promise<UserRow[]> {
  return db
    .selectFrom('event_presenters')
    .innerJoin('users', 'users.id', 'event_presenters.user_id')
    .selectAll('users')
    .where('event_presenters.event_id', '=', eventId)
    .orderBy('users.email')
    .execute();
}

export async function presentedEventIds(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('event_presenters')
    .select('event_id')
    .where('user_id', '=', userId)
    .limit(10_000)
    .execute();
  return rows.map((r) => r.event_id);
}

export async function presents(db: Db, userId: string, eventId: string): Promise<boolean> {
  const row = await db
    .selectFrom('event_presenters')
    .select('event_id')
    .where('user_id', '=', userId)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Sessions past their lifetime or idle limit, and invitations a month past their expiry, go. */
export async function removeStaleSignIns(db: Db, nowMs = Date.now()): Promise<void> {
  const now = new Date(nowMs).toISOString();
  const idle = new Date(nowMs - SESSION_IDLE_DAYS * 86_400_000).toISOString();
  await db
    .deleteFrom('user_sessions')
    .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<=', idle)]))
    .execute();
  await db
    .deleteFrom('invitations')
    .where('expires_at', '<', new Date(nowMs - 30 * 86_400_000).toISOString())
    .execute();
}
