import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import type { WebhookEventType, WebhooksTable } from '../db/schema.ts';
import { createWebhook, WEBHOOK_EVENT_TYPES } from '../services/webhooks.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';

const WebhookBody = z.object({
  url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }).max(2000),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES as [string, ...string[]]))
    .min(1)
    .default([...WEBHOOK_EVENT_TYPES]),
});

function webhookView(row: WebhooksTable) {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events_json) as string[],
    createdAt: row.created_at,
  };
}

/** Per-account webhook endpoints. The signing secret is shown once, when the endpoint is created. */
export function webhookRoutes(db: Db): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parseOr400(WebhookBody, req.body, 'body');
    const row = await createWebhook(db, accountOf(res).id, body.url, body.events as WebhookEventType[]);
    res.status(201).json({ ...webhookView(row), secret: row.secret });
  });

  router.get('/', async (_req, res) => {
    const rows = await db
      .selectFrom('webhooks')
      .selectAll()
      .where('account_id', '=', accountOf(res).id)
      .orderBy('created_at')
      .execute();
    res.json({ webhooks: rows.map(webhookView) });
  });

  router.delete('/:id', async (req, res) => {
    const result = await db
      .deleteFrom('webhooks')
      .where('id', '=', String(req.params.id))
      .where('account_id', '=', accountOf(res).id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new HttpError(404, 'not_found', 'No such webhook.');
    res.status(204).end();
  });

  return router;
}
