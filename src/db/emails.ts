import { nowIso } from '../ids.ts';
import type { Db } from './database.ts';

/** Whether the mail with this id (its job's id) was sent already. */
export async function wasEmailSent(db: Db, id: string): Promise<boolean> {
  const row = await db.selectFrom('sent_emails').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

/** Records a mail as sent; recording it twice (a retried job) is a no-op. */
export async function recordEmailSent(
  db: Db,
  mail: { id: string; registrantId: string | null; kind: string },
): Promise<void> {
  await db
    .insertInto('sent_emails')
    .values({ id: mail.id, registrant_id: mail.registrantId, kind: mail.kind, sent_at: nowIso() })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}
