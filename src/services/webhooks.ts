import crypto from 'node:crypto';
import type { Db } from '../db/database.ts';
import type { WebhookEventType, WebhooksTable } from '../db/schema.ts';
import { newId, nowIso } from '../ids.ts';
import type { JobQueues } from '../queue/catalogue.ts';

export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = ['live.started', 'live.ended', 'asset.ready'];

/**
 * Signature header, Stripe-style: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * Receivers recompute it with their secret and reject stale timestamps (replays).
 */
export function signWebhook(secret: string, body: string, timestampSeconds: number): string {
  const mac = crypto.createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false;
  const expected = Buffer.from(signWebhook(secret, body, t));
  const given = Buffer.from(header);
  return expected.length === given.length && crypto.timingSafeEqual(expected, given);
}

export async function createWebhook(
  db: Db,
  accountId: string,
  url: string,
  events: readonly WebhookEventType[],
): Promise<WebhooksTable> {
  const row: WebhooksTable = {
    id: newId('wh'),
    account_id: accountId,
    url,
    secret: newId('whsec'),
    events_json: JSON.stringify(events),
    created_at: nowIso(),
  };
  await db.insertInto('webhooks').values(row).execute();
  return row;
}

/**
 * Queues one delivery per subscribed webhook. The delivery id is derived from the subject, so an
 * event emitted twice (a retried job, a worker takeover) is delivered once.
 */
export async function emitWebhook(
  db: Db,
  queues: JobQueues,
  accountId: string,
  type: WebhookEventType,
  subjectId: string,
  data: Record<string, unknown>,
): Promise<void> {
  const hooks = await db.selectFrom('webhooks').selectAll().where('account_id', '=', accountId).execute();
  for (const hook of hooks) {
    if (!(JSON.parse(hook.events_json) as string[]).includes(type)) continue;
    const deliveryId = `${type}:${subjectId}:${hook.id}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    const body = JSON.stringify({ id: deliveryId, type, createdAt: nowIso(), data });
    await queues.add('deliver-webhook', { webhookId: hook.id, deliveryId, type, body }, `wh-${deliveryId}`);
  }
}

/** One delivery attempt: a 2xx answer within 10 s counts, anything else is retried by the queue. */
export async function deliverWebhook(
  hook: Pick<WebhooksTable, 'url' | 'secret'>,
  delivery: { deliveryId: string; type: string; body: string },
): Promise<void> {
  const response = await fetch(hook.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'onair-webhooks',
      'onair-webhook-id': delivery.deliveryId,
      'onair-webhook-type': delivery.type,
      'onair-signature': signWebhook(hook.secret, delivery.body, Math.floor(Date.now() / 1000)),
    },
    body: delivery.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  await response.body?.cancel();
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`webhook endpoint answered ${response.status}`);
  }
}
