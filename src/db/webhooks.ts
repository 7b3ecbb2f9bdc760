import { sql, type Selectable } from 'kysely';
import type { Db } from './database.ts';
import type { WebhooksTable } from './schema.ts';

export type WebhookRow = Selectable<WebhooksTable>;

export async function insertWebhook(db: Db, row: WebhookRow): Promise<void> {
  await db.insertInto('webhooks').values(row).execute();
}

/** An account's webhooks, oldest first. */
export async function listAccountWebhooks(db: Db, accountId: string): Promise<WebhookRow[]> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Deletes one of an account's webhooks; false when it has no such webhook. */
export async function deleteAccountWebhook(db: Db, accountId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom('webhooks')
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** What a delivery needs of a webhook; the secret still sealed. */
export async function findWebhookForDelivery(
  db: Db,
  webhookId: string,
): Promise<Pick<WebhooksTable, 'id' | 'url' | 'secret'> | undefined> {
  return db
    .selectFrom('webhooks')
    .select(['id', 'url', 'secret'])
    .where('id', '=', webhookId)
    .executeTakeFirst();
}

/**
 * Webhooks whose stored secret does not start with `prefix`. Compared with `substr`, not `like`:
 * LIKE ignores case on SQLite and not on PostgreSQL, and `_`/`%` would be wildcards.
 */
export async function listWebhookSecretsWithout(
  db: Db,
  prefix: string,
): Promise<{ id: string; secret: string }[]> {
  return db
    .selectFrom('webhooks')
    .select(['id', 'secret'])
    .where(sql<string>`substr(secret, 1, ${sql.lit(prefix.length)})`, '<>', prefix)
    .orderBy('id')
    .execute();
}

/**
 * Replaces a webhook's stored secret only if it still holds `expected` (another process may have
 * rewritten it meanwhile); returns whether it did.
 */
export async function replaceWebhookSecret(
  db: Db,
  id: string,
  expected: string,
  secret: string,
): Promise<boolean> {
  const result = await db
    .updateTable('webhooks')
    .set({ secret })
    .where('id', '=', id)
    .where('secret', '=', expected)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
