import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount } from '../../src/db/accounts.ts';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import {
  createWebhook,
  deliverWebhook,
  encryptLegacyWebhookSecrets,
  findWebhookForDelivery,
  openWebhookSecret,
  sealWebhookSecret,
  verifyWebhook,
  WebhookSecretError,
} from '../../src/services/webhooks.ts';

const SERVER_SECRET = 'a-server-secret-of-at-least-32-characters';
let dir: string;
let db: Db;
let accountId: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-whsec-'));
  db = openDatabase({ dataDir: dir });
  await migrateToLatest(db);
  accountId = (await createAccount(db, 'test')).id;
});
afterAll(async () => {
  await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('webhook signing secrets at rest', () => {
  it('seals as v1.<iv>.<ciphertext>.<tag> and opens only with the same server secret and webhook id', () => {
    const sealed = sealWebhookSecret('whsec_abc', 'wh_1', SERVER_SECRET);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain('whsec_abc');
    expect(sealWebhookSecret('whsec_abc', 'wh_1', SERVER_SECRET)).not.toBe(sealed); // fresh IV
    expect(openWebhookSecret(sealed, 'wh_1', SERVER_SECRET)).toBe('whsec_abc');
    expect(() => openWebhookSecret(sealed, 'wh_2', SERVER_SECRET)).toThrow(WebhookSecretError);
    expect(() => openWebhookSecret(sealed, 'wh_1', 'another-server-secret-of-32-characters')).toThrow(
      /ONAIR_SECRET/,
    );
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('AAA') ? 'BBB' : 'AAA');
    expect(() => openWebhookSecret(tampered, 'wh_1', SERVER_SECRET)).toThrow(WebhookSecretError);
    // Rows from before encryption: the bare secret.
    expect(openWebhookSecret('whsec_legacy', 'wh_1', SERVER_SECRET)).toBe('whsec_legacy');
  });

  it('stores no secret in clear; a delivery is still signed with it', async () => {
    const { row, secret } = await createWebhook(db, SERVER_SECRET, {
      accountId,
      url: 'http://127.0.0.1/hook',
      events: ['live.started'],
    });
    expect(secret).toMatch(/^whsec_/);
    const stored = await db
      .selectFrom('webhooks')
      .select('secret')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    expect(stored.secret).toMatch(/^v1\./);
    expect(stored.secret).not.toContain(secret);
    expect(stored.secret).not.toContain(secret.slice('whsec_'.length));

    const got = await receiveOne(async (url) => {
      await db.updateTable('webhooks').set({ url }).where('id', '=', row.id).execute();
      const hook = (await findWebhookForDelivery(db, row.id))!;
      await deliverWebhook(
        { url: hook.url, secret: openWebhookSecret(hook.secret, hook.id, SERVER_SECRET) },
        { deliveryId: 'd1', type: 'live.started', body: '{"x":1}' },
        { allowPrivate: true },
      );
    });
    const now = Math.floor(Date.now() / 1000);
    expect(verifyWebhook(secret, got.body, got.signature, now)).toBe(true);
    expect(verifyWebhook(stored.secret, got.body, got.signature, now)).toBe(false);
  });

  it('re-encrypts legacy rows, which keep signing with the same secret', async () => {
    await db
      .insertInto('webhooks')
      .values({
        id: 'wh_legacy',
        account_id: accountId,
        url: 'http://127.0.0.1/legacy',
        secret: 'whsec_legacyplain',
        events_json: '["live.ended"]',
        created_at: new Date().toISOString(),
      })
      .execute();
    // Before: a legacy row delivers as it is.
    const before = (await findWebhookForDelivery(db, 'wh_legacy'))!;
    expect(openWebhookSecret(before.secret, before.id, SERVER_SECRET)).toBe('whsec_legacyplain');

    expect(await encryptLegacyWebhookSecrets(db, SERVER_SECRET)).toBe(1);
    expect(await encryptLegacyWebhookSecrets(db, SERVER_SECRET)).toBe(0); // idempotent
    const after = (await findWebhookForDelivery(db, 'wh_legacy'))!;
    expect(after.secret).toMatch(/^v1\./);
    expect(after.secret).not.toContain('legacyplain');
    expect(openWebhookSecret(after.secret, after.id, SERVER_SECRET)).toBe('whsec_legacyplain');
    const all = await db.selectFrom('webhooks').select('secret').execute();
    expect(all.every((r) => r.secret.startsWith('v1.'))).toBe(true);
  });
});

/** Starts a listener on 127.0.0.1, runs `send` with its URL, returns the one request it got. */
async function receiveOne(
  send: (url: string) => Promise<void>,
): Promise<{ body: string; signature: string }> {
  const got: { body: string; signature: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ body, signature: String(req.headers['onair-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await send(`http://127.0.0.1:${(server.address() as { port: number }).port}/hook`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(got).toHaveLength(1);
  return got[0]!;
}
