import type { Job } from 'bullmq';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { deliverWebhook } from '../src/services/webhooks.ts';
import type { WorkerDeps } from './deps.ts';

export function createDeliverWebhookProcessor(deps: WorkerDeps) {
  return async function processDeliverWebhook(job: Job<JobPayload<'deliver-webhook'>>): Promise<void> {
    const hook = await deps.db
      .selectFrom('webhooks')
      .select(['url', 'secret'])
      .where('id', '=', job.data.webhookId)
      .executeTakeFirst();
    if (!hook) return; // deleted since: nothing to deliver
    try {
      await deliverWebhook(hook, job.data);
    } catch (err) {
      deps.log.warn('webhook delivery failed', {
        webhookId: job.data.webhookId,
        type: job.data.type,
        attempt: job.attemptsMade + 1,
        reason: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  };
}
