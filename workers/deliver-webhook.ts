import { UnrecoverableError, type Job } from 'bullmq';
import { OutboundRefusal } from '../src/net/outbound-guard.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { findWebhookForDelivery } from '../src/db/webhooks.ts';
import { deliverWebhook, openWebhookSecret, WebhookSecretError } from '../src/services/webhooks.ts';
import type { WorkerDeps } from './deps.ts';

export function createDeliverWebhookProcessor(deps: WorkerDeps) {
  const policy = { allowPrivate: deps.config.webhookAllowPrivate };
  return async function processDeliverWebhook(job: Job<JobPayload<'deliver-webhook'>>): Promise<void> {
    const hook = await findWebhookForDelivery(deps.db, job.data.webhookId);
    if (!hook) return; // deleted since: nothing to deliver
    const fields = { webhookId: job.data.webhookId, type: job.data.type, attempt: job.attemptsMade + 1 };
    try {
      // Decrypted here only, for this one signature.
      const secret = openWebhookSecret(hook.secret, hook.id, deps.secret);
      await deliverWebhook({ url: hook.url, secret }, job.data, policy);
    } catch (err) {
      // A target that is not allowed (its name now resolves to a private address, say) or a
      // secret that no longer opens will not get better by retrying: fail at once.
      if ((err instanceof OutboundRefusal && err.permanent) || err instanceof WebhookSecretError) {
        deps.log.warn('webhook delivery refused', { ...fields, reason: err.message });
        throw new UnrecoverableError(err.message);
      }
      deps.log.warn('webhook delivery failed', {
        ...fields,
        reason: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  };
}
