import crypto from 'node:crypto';
import { newId, nowIso } from '../ids.ts';
import { sql } from 'kysely';
import { databaseKind, type Db } from './database.ts';

export interface Account {
  readonly id: string;
  readonly name: string;
}

export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

/** A new bearer key: `onair_` and 256 random bits. Only its hash is stored. */
export function generateApiKey(): string {
  return `onair_${crypto.randomBytes(32).toString('base64url')}`;
}

export async function createAccount(db: Db, name: string): Promise<Account> {
  const account = { id: newId('acc'), name, created_at: nowIso() };
  await db.insertInto('accounts').values(account).execute();
  return { id: account.id, name };
}

export async function addApiKey(db: Db, accountId: string, key: string, label: string): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({
      id: newId('key'),
      account_id: accountId,
      key_hash: hashApiKey(key),
      label,
      created_at: nowIso(),
    })
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .execute();
}

/** last_used_at is written at most this often per key. */
const KEY_USE_EVERY_MS = 3600_000;

/** The account of a valid key; undefined for an unknown key or a closed account. */
export async function findAccountByApiKey(db: Db, key: string): Promise<Account | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
    .select([
      'accounts.id',
      'accounts.name',
      'accounts.deletion_requested_at',
      'api_keys.id as key_id',
      'api_keys.last_used_at',
    ])
    .where('api_keys.key_hash', '=', hashApiKey(key))
    .executeTakeFirst();
  if (!row || row.deletion_requested_at !== null) return undefined;
  if (!row.last_used_at || Date.now() - Date.parse(row.last_used_at) > KEY_USE_EVERY_MS) {
    await db.updateTable('api_keys').set({ last_used_at: nowIso() }).where('id', '=', row.key_id).execute();
  }
  return { id: row.id, name: row.name };
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly label: string;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export async function listApiKeys(db: Db, accountId: string): Promise<ApiKeyInfo[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(['id', 'label', 'created_at', 'last_used_at'])
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .limit(1000)
    .execute();
  return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
}

export async function countApiKeys(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A new key for the account: the key itself is returned once and never stored. */
export async function createApiKey(
  db: Db,
  accountId: string,
  label: string,
): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = generateApiKey();
  const info = { id: newId('key'), label, createdAt: nowIso(), lastUsedAt: null };
  await db
    .insertInto('api_keys')
    .values({
      id: info.id,
      account_id: accountId,
      key_hash: hashApiKey(key),
      label,
      created_at: info.createdAt,
    })
    .execute();
  return { key, info };
}

export async function revokeApiKey(db: Db, accountId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('api_keys')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** How long a closed account can be reopened before its media and personal data are purged. */
export const ACCOUNT_GRACE_DAYS = 30;

/** Closes (or with `closed` false, reopens) an account; signing in still works, to reopen it. */
export async function setAccountClosed(db: Db, accountId: string, closed: boolean): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ deletion_requested_at: closed ? nowIso() : null })
    .where('id', '=', accountId)
    .execute();
}

export async function findAccountRow(db: Db, accountId: string) {
  return db.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
}

/** Accounts closed before `beforeIso`: their grace period is over. */
export async function accountsToPurge(db: Db, beforeIso: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('id')
    .where('deletion_requested_at', 'is not', null)
    .where('deletion_requested_at', '<', beforeIso)
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** PostgreSQL advisory lock key of the first-start check ("onai"). */
const FIRST_START_LOCK = 0x6f6e6169;

/**
 * First start: make the first account. With `configuredKey` (ONAIR_API_KEY) that key is registered;
 * otherwise a key is generated and returned so the caller can show it once.
 *
 * Several API processes may make their first start at once (scale-out on PostgreSQL): the check
 * and the account it creates run in one transaction under an advisory lock, so they make one
 * account between them. (With SQLite one API process serves the file: no lock is needed.)
 */
export async function ensureFirstAccount(
  db: Db,
  configuredKey: string | undefined,
): Promise<{ account: Account; generatedKey?: string }> {
  const kind = databaseKind(db);
  return db.transaction().execute(async (tx) => {
    if (kind === 'postgres')
      await sql`select pg_advisory_xact_lock(${sql.lit(FIRST_START_LOCK)})`.execute(tx);
    let account = await tx
      .selectFrom('accounts')
      .select(['id', 'name'])
      .orderBy('created_at')
      .orderBy('id')
      .executeTakeFirst();
    let generatedKey: string | undefined;
    if (!account) {
      account = await createAccount(tx, 'default');
      if (!configuredKey) {
        generatedKey = generateApiKey();
        await addApiKey(tx, account.id, generatedKey, 'first start');
      }
    }
    if (configuredKey) await addApiKey(tx, account.id, configuredKey, 'ONAIR_API_KEY');
    return generatedKey ? { account, generatedKey } : { account };
  });
}
