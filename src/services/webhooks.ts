import crypto from 'node:crypto';
import type { Db } from '../db/database.ts';
import type { WebhookEventType, WebhooksTable } from '../db/schema.ts';
import {
  insertWebhook,
  listAccountWebhooks,
  listWebhookSecretsWithout,
  replaceWebhookSecret,
} from '../db/webhooks.ts';
import { newId, nowIso } from '../ids.ts';
import { guardedPost, type OutboundPolicy } from '../net/outbound-guard.ts';
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

// Signing secrets at rest: AES-256-GCM under a key derived from the server secret (ONAIR_SECRET or
// DATA_DIR/secret.key), stored as `v1.<iv>.<ciphertext>.<tag>` (base64url) in the same column. The
// webhook id is the additional authenticated data, so a sealed secret copied onto another row does
// not open. Rows written before this have the bare secret (`whsec_...`): read as legacy until
// `encryptLegacyWebhookSecrets` rewrites them.
const SEALED_PREFIX = 'v1.';

function webhookSecretKey(serverSecret: string): Buffer {
  return Buffer.from(
    crypto.hkdfSync('sha256', serverSecret, Buffer.alloc(0), 'onair webhook secrets v1', 32),
  );
}

export function sealWebhookSecret(secret: string, webhookId: string, serverSecret: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', webhookSecretKey(serverSecret), iv);
  cipher.setAAD(Buffer.from(webhookId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return SEALED_PREFIX + parts.join('.');
}

/** The signing secret from its stored form (sealed, or legacy plain text). */
export function openWebhookSecret(stored: string, webhookId: string, serverSecret: string): string {
  if (!stored.startsWith(SEALED_PREFIX)) return stored;
  const [iv, ciphertext, tag] = stored.slice(SEALED_PREFIX.length).split('.');
  try {
    const decipher = crypto.createDecipheriv(
      'aes-256-gcm',
      webhookSecretKey(serverSecret),
      Buffer.from(iv ?? '', 'base64url'),
    );
    decipher.setAAD(Buffer.from(webhookId));
    decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertext ?? '', 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new WebhookSecretError(
      `the signing secret of webhook ${webhookId} cannot be decrypted: was ONAIR_SECRET (or DATA_DIR/secret.key) changed?`,
    );
  }
}

export class WebhookSecretError extends Error {
  override name = 'WebhookSecretError';
}

/**
 * Seals every signing secret still stored in clear (rows from before encryption at rest). Safe to
 * run at every start and from several processes: a row is only rewritten if it still holds the
 * value read. Returns how many rows were sealed.
 */
export async function encryptLegacyWebhookSecrets(db: Db, serverSecret: string): Promise<number> {
  let sealed = 0;
  for (const row of await listWebhookSecretsWithout(db, SEALED_PREFIX)) {
    const next = sealWebhookSecret(row.secret, row.id, serverSecret);
    if (await replaceWebhookSecret(db, row.id, row.secret, next)) sealed++;
  }
  return sealed;
}

/**
 * Stores a webhook endpoint with a new signing secret, sealed. The URL must already have passed
 * the outbound checks (store the checked `href`). Returns the row and the secret in clear, which
 * the caller shows once.
 */
export async function createWebhook(
  db: Db,
  serverSecret: string,
  hook: { accountId: string; url: string; events: readonly WebhookEventType[] },
): Promise<{ row: WebhooksTable; secret: string }> {
  const id = newId('wh');
  const secret = newId('whsec');
  const row: WebhooksTable = {
    id,
    account_id: hook.accountId,
    url: hook.url,
    secret: sealWebhookSecret(secret, id, serverSecret),
    events_json: JSON.stringify(hook.events),
    created_at: nowIso(),
  };
  await insertWebhook(db, row);
  return { row, secret };
}

/** Kept here too: deliveries and tests looked it up in this module first. */
export { findWebhookForDelivery } from '../db/webhooks.ts';

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
  for (const hook of await listAccountWebhooks(db, accountId)) {
    if (!(JSON.parse(hook.events_json) as string[]).includes(type)) continue;
    const deliveryId = `${type}:${subjectId}:${hook.id}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    const body = JSON.stringify({ id: deliveryId, type, createdAt: nowIso(), data });
    await queues.add('deliver-webhook', { webhookId: hook.id, deliveryId, type, body }, `wh-${deliveryId}`);
  }
}

/**
 * One delivery attempt: a 2xx answer within 10 s counts, anything else is retried by the queue.
 * The URL is checked again here, with a fresh DNS answer, and the connection goes to the addresses
 * checked (see outbound-guard): throws OutboundRefusal when the target is not allowed.
 * `secret` is the signing secret in clear.
 */
export async function deliverWebhook(
  hook: { url: string; secret: string },
  delivery: { deliveryId: string; type: string; body: string },
  policy: OutboundPolicy,
): Promise<void> {
  const { status } = await guardedPost(
    hook.url,
    {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'onair-webhooks',
        'onair-webhook-id': delivery.deliveryId,
        'onair-webhook-type': delivery.type,
        'onair-signature': signWebhook(hook.secret, delivery.body, Math.floor(Date.now() / 1000)),
      },
      body: delivery.body,
      timeoutMs: 10_000,
    },
    policy,
  );
  if (status < 200 || status >= 300) {
    throw new Error(`webhook endpoint answered ${status}`);
  }
}
