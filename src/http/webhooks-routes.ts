import { Router } from 'express';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import type { WebhookEventType, WebhooksTable } from '../db/schema.ts';
import { deleteAccountWebhook, listAccountWebhooks } from '../db/webhooks.ts';
import {
  checkOutboundUrl,
  OutboundRefusal,
  resolveOutbound,
  type OutboundPolicy,
} from '../net/outbound-guard.ts';
import { createWebhook, WEBHOOK_EVENT_TYPES } from '../services/webhooks.ts';
import { accountOf } from './auth.ts';
import { HttpError, parseOr400 } from './errors.ts';

const WebhookBody = z.object({
  // Checked by outbound-guard below, which says why a URL is refused.
  url: z.string().min(1).max(2000),
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

export interface WebhookRoutesDeps {
  db: Db;
  /** The server secret: signing secrets are sealed with a key derived from it. */
  secret: string;
  /** Where webhooks may point (WEBHOOK_ALLOW_PRIVATE); checked again at each delivery. */
  outbound: OutboundPolicy;
}

/**
 * The URL as it will be stored: refused with a 400 that says why when it points at this machine
 * or a private network, directly or through any address its name resolves to.
 */
async function checkedWebhookUrl(text: string, policy: OutboundPolicy): Promise<string> {
  try {
    const url = checkOutboundUrl(text, policy);
    await resolveOutbound(url, policy);
    // The normalised form: delivery parses exactly what was checked.
    return url.href;
  } catch (err) {
    if (!(err instanceof OutboundRefusal)) throw err;
    throw new HttpError(400, 'invalid_request', `Invalid body: url ${err.message}`, [
      { field: 'url', message: err.message, reason: err.code },
    ]);
  }
}

/** Per-account webhook endpoints. The signing secret is shown once, when the endpoint is created. */
export function webhookRoutes(deps: WebhookRoutesDeps): Router {
  const { db } = deps;
  const router = Router();

  router.post('/', async (req, res) => {
    const body = parseOr400(WebhookBody, req.body, 'body');
    const url = await checkedWebhookUrl(body.url, deps.outbound);
    const { row, secret } = await createWebhook(db, deps.secret, {
      accountId: accountOf(res).id,
      url,
      events: body.events as WebhookEventType[],
    });
    res.status(201).json({ ...webhookView(row), secret });
  });

  router.get('/', async (_req, res) => {
    const rows = await listAccountWebhooks(db, accountOf(res).id);
    res.json({ webhooks: rows.map(webhookView) });
  });

  router.delete('/:id', async (req, res) => {
    if (!(await deleteAccountWebhook(db, accountOf(res).id, String(req.params.id))))
      throw new HttpError(404, 'not_found', 'No such webhook.');
    res.status(204).end();
  });

  return router;
}
