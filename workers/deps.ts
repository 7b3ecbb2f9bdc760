import type { Redis } from 'ioredis';
import type { JobQueues } from '../src/queue/catalogue.ts';
import type { Config } from '../src/config.ts';
import type { Db } from '../src/db/database.ts';
import type { Logger } from '../src/log.ts';
import type { Storage } from '../src/storage/storage.ts';

/** What processors are given by the worker composition root. */
export interface WorkerDeps {
  readonly db: Db;
  readonly storage: Storage;
  readonly config: Config;
  readonly log: Logger;
  readonly redis: Redis;
  readonly queues: JobQueues;
  /** Signs links in emails (the same secret as the API's). */
  readonly secret: string;
}
