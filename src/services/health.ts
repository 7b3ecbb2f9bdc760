import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Db } from '../db/database.ts';
import type { Storage } from '../storage/storage.ts';

/** True if `check` resolves within `ms`; false if it fails or takes longer (it is left to finish). */
export async function answersWithin(ms: number, check: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      check().then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Each check gets this long: a load balancer's probe or the status page must get an answer. */
const CHECK_MS = 500;

/** Whether Redis and the database answer, each within CHECK_MS (for /healthz and /status). */
export async function coreHealth(db: Db, redis: Redis): Promise<{ redis: boolean; database: boolean }> {
  const [redisUp, databaseUp] = await Promise.all([
    // Not connected: say so at once. A command would wait in ioredis's offline queue until
    // Redis is back (workers' connections never give up), and the check would hang with it.
    redis.status === 'ready' ? answersWithin(CHECK_MS, () => redis.ping()) : false,
    answersWithin(CHECK_MS, () => sql`select 1`.execute(db)),
  ]);
  return { redis: redisUp, database: databaseUp };
}

/** Whether storage answers a metadata call (a key that need not exist) within a second. */
export function storageHealth(storage: Storage): Promise<boolean> {
  return answersWithin(1000, () => storage.stat('status/probe'));
}
