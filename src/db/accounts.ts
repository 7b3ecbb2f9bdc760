import crypto from 'node:crypto';
import { newId, nowIso } from '../ids.ts';
import type { Db } from './database.ts';

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

/**
 * First start: make the first account. With `configuredKey` (ONAIR_API_KEY) that key is registered;
 * otherwise a key is generated and returned so the caller can show it once.
 */
export async function ensureFirstAccount(
  db: Db,
  configuredKey: string | undefined,
): Promise<{ account: Account; generatedKey?: string }> {
  let account = await db
    .selectFrom('accounts')
    .select(['id', 'name'])
    .orderBy('created_at')
    .executeTakeFirst();
  let generatedKey: string | undefined;
  if (!account) {
    account = await createAccount(db, 'default');
    if (!configuredKey) {
      generatedKey = generateApiKey();
      await addApiKey(db, account.id, generatedKey, 'first start');
    }
  }
  if (configuredKey) await addApiKey(db, account.id, configuredKey, 'ONAIR_API_KEY');
  return generatedKey ? { account, generatedKey } : { account };
}
