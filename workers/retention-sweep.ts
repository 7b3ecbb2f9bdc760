import { anonymiseExpiredRegistrants } from '../src/services/retention.ts';
import type { WorkerDeps } from './deps.ts';

/** Scheduled: anonymise registrants of events that ended more than RETENTION_DAYS ago. */
export function createRetentionSweepProcessor(deps: WorkerDeps) {
  return async function processRetentionSweep(): Promise<void> {
    const erased = await anonymiseExpiredRegistrants(deps.db, new Date(), deps.config.retentionDays);
    if (erased > 0) deps.log.info('retention: registrants anonymised', { count: erased });
  };
}
