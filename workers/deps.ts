import type { Redis } from 'ioredis';
import type { JobQueues } from '../src/queue/catalogue.ts';
import type { Config } from '../src/config.ts';
import type { Db } from '../src/db/database.ts';
import type { Logger } from '../src/log.ts';
import type { HlsSink } from '../src/media/hls-sink.ts';
import type { Metrics } from '../src/services/metrics.ts';
import type { Storage } from '../src/storage/storage.ts';

/** What processors are given by the worker composition root. */
export interface WorkerDeps {
  readonly db: Db;
  /** Where every output goes (local disk or S3): the only way media leaves a worker. */
  readonly storage: Storage;
  /** ffmpeg's HLS output arrives here (HTTP PUT on loopback) and is stored as it streams in. */
  readonly sink: HlsSink;
  /**
   * This process's private scratch folder on local disk (stills, a downloaded source, a poster
   * frame). Each job attempt works in a folder of its own under it and removes it when done.
   */
  readonly scratchDir: string;
  readonly config: Config;
  readonly log: Logger;
  readonly redis: Redis;
  readonly queues: JobQueues;
  /** Signs links in emails (the same secret as the API's). */
  readonly secret: string;
  /** This process's Prometheus metrics (live streams' gauges are set by the live job). */
  readonly metrics: Metrics;
}

/**
 * The abort reason a processor's signal carries when this worker lost the job's lock (it was too
 * slow to renew it, so BullMQ may already have handed the job to another worker): stop the job's
 * ffmpeg and leave everything else to the new owner.
 */
export const LOCK_LOST = 'lock lost';

/** The abort reason when this worker is shutting down: hand the job back at once. */
export const SHUTDOWN = 'shutdown';
