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

export async function findAccountByApiKey(db: Db, key: string): Promise<Account | undefined> {
  return db
    .selectFrom('api_keys')
    .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
    .select(['accounts.id', 'accounts.name'])
    .where('api_keys.key_hash', '=', hashApiKey(key))
    .executeTakeFirst();
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
