import { removeStaleSignIns } from '../src/db/users.ts';
import { purgeClosedAccounts } from '../src/services/account-purge.ts';
import { anonymiseExpiredRegistrants } from '../src/services/retention.ts';
import { finishStrandedUploads, removeExpiredUploads } from '../src/services/resumable-uploads.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * Scheduled (hourly): anonymise registrants of events that ended more than RETENTION_DAYS ago;
 * make assets of complete uploads whose last request ended before it did; remove resumable
 * uploads left unfinished past their expiry (the same clean-up start-up runs); sweep stale
 * sessions and invitations; purge accounts closed longer than their grace period.
 */
export function createRetentionSweepProcessor(deps: WorkerDeps) {
  return async function processRetentionSweep(): Promise<void> {
    const erased = await anonymiseExpiredRegistrants(deps.db, new Date(), deps.config.retentionDays);
    if (erased > 0) deps.log.info('retention: registrants anonymised', { count: erased });
    await finishStrandedUploads(deps);
    await removeExpiredUploads(deps, deps.log);
    await removeStaleSignIns(deps.db);
    const purged = await purgeClosedAccounts(deps, new Date());
    if (purged > 0) deps.log.info('closed accounts purged after their grace period', { count: purged });
  };
}
