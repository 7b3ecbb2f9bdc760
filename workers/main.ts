import { Worker, type Job, type WorkerOptions } from 'bullmq';
import { loadConfig, type Config } from '../src/config.ts';
import { migrateToLatest, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { jobCatalogue, QUEUE_NAMES, type JobName } from '../src/queue/catalogue.ts';
import { connectRedis, RedisOutageLog } from '../src/queue/redis.ts';
import { HlsSink } from '../src/media/hls-sink.ts';
import { runningFfmpegs } from '../src/media/ffmpeg.ts';
import { Metrics, MetricsPublisher } from '../src/services/metrics.ts';
import { ensurePrivateDir } from '../src/storage/local-storage.ts';
import { openStorage } from '../src/storage/open-storage.ts';
import { claimScratchDir } from '../src/storage/scratch.ts';
import { LOCK_LOST, SHUTDOWN, type WorkerDeps } from './deps.ts';
import { createRetentionSweepProcessor } from './retention-sweep.ts';
import { createTranscodeVodProcessor, TRANSCODE_MAX_STALLS } from './transcode-vod.ts';
import { createLiveStreamProcessor } from './live-stream.ts';
import { createDeliverWebhookProcessor } from './deliver-webhook.ts';
import { createSendAccessLinkProcessor, createSendEmailProcessor } from './send-email.ts';
import { createSendTeamMailProcessor } from './send-team-mail.ts';
import { createReplayImagesProcessor } from './replay-images.ts';
import { loadSecret, sharesDatabase } from '../src/services/secret.ts';
import { JobQueues } from '../src/queue/catalogue.ts';

// Each processor narrows the payload itself; the table only needs the common call shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Processor = (job: Job<any>, token?: string, signal?: AbortSignal) => Promise<void>;

/** Every job name maps to its processor: adding a job to the catalogue without one fails to compile. */
function processors(deps: WorkerDeps): Record<JobName, Processor> {
  return {
    'transcode-vod': createTranscodeVodProcessor(deps),
    'retention-sweep': createRetentionSweepProcessor(deps),
    'live-stream': createLiveStreamProcessor(deps),
    'deliver-webhook': createDeliverWebhookProcessor(deps),
    'send-email': createSendEmailProcessor(deps),
    'send-access-link': createSendAccessLinkProcessor(deps),
    'replay-images': createReplayImagesProcessor(deps),
    'send-team-mail': createSendTeamMailProcessor(deps),
  };
}

export interface RunningWorkers {
  close(): Promise<void>;
}

/** Worker composition root: runnable alone (`npm run workers`) or forked by `npm start`. */
export async function startWorkers(config: Config): Promise<RunningWorkers> {
  if (!config.redisUrl) throw new Error('REDIS_URL is required to run workers on their own');
  const log = createLogger(config.logLevel, { role: 'worker', pid: process.pid });
  // Run alone, DATA_DIR is scratch, still nobody else's to read.
  ensurePrivateDir(config.dataDir);
  const db = openDatabase(config);
  await migrateToLatest(db);
  const storage = await openStorage(config);
  const scratch = await claimScratchDir(config.dataDir, 'worker');
  const sink = await HlsSink.start(storage, log);
  // Connection errors of all of them (and of the workers' blocking connections) make one
  // "unreachable" line per outage and one "reachable again".
  const outages = new RedisOutageLog(log);
  const connection = connectRedis(config.redisUrl, outages);
  const redis = connectRedis(config.redisUrl, outages);
  const queues = new JobQueues(redis, outages.onError);
  const secret = loadSecret(config.secret, config.dataDir, sharesDatabase(config));
  const metrics = new Metrics('worker', { ffmpeg: runningFfmpegs });
  const publisher = new MetricsPublisher(metrics, redis, log);
  const table = processors({
    metrics,
    db,
    storage,
    sink,
    scratchDir: scratch.dir,
    config,
    log,
    redis,
    queues,
    secret,
  });

  /** Live jobs run for hours and must move quickly to another worker if this one dies. */
  const optionsFor = (queue: string): Partial<WorkerOptions> =>
    queue === 'live'
      ? {
          concurrency: config.live.streamsPerWorker,
          lockDuration: config.live.lockMs,
          stalledInterval: Math.max(500, Math.floor(config.live.lockMs / 2)),
          maxStalledCount: 1000,
        }
      : queue === 'webhooks' || queue === 'email'
        ? { concurrency: 8, lockDuration: 30_000, stalledInterval: 15_000, maxStalledCount: 3 }
        : {
            concurrency: config.workerConcurrency,
            lockDuration: config.jobLockMs,
            stalledInterval: Math.max(1000, Math.floor(config.jobLockMs / 2)),
            // A worker killed mid-job is "stalled", not failed: the job runs again elsewhere without
            // spending an attempt. The transcoder fails a job in words at this count itself.
            maxStalledCount: TRANSCODE_MAX_STALLS,
          };

  const workers = QUEUE_NAMES.map(
    (queue) =>
      new Worker(
        queue,
        (job, token, signal) => {
          const name = job.name as JobName;
          const processor = table[name];
          if (!processor || jobCatalogue[name].queue !== queue)
            throw new Error(`no processor for ${job.name}`);
          return processor(job, token, signal);
        },
        { connection, ...optionsFor(queue) },
      ),
  );
  const finished = (queue: string, job: Job, outcome: 'completed' | 'failed') => {
    metrics.jobs.inc({ queue, name: job.name, outcome });
    if (job.processedOn)
      metrics.jobSeconds.observe({ queue, name: job.name }, (Date.now() - job.processedOn) / 1000);
  };
  for (const [i, w] of workers.entries()) {
    const queue = QUEUE_NAMES[i]!;
    w.on('completed', (job) => finished(queue, job, 'completed'));
    w.on('failed', (job, err) => {
      if (job) finished(queue, job, 'failed');
      log.warn('job failed', { jobId: job?.id, name: job?.name, reason: err.message });
    });
    w.on('error', outages.onError);
    // BullMQ may already have given these jobs to another worker: stop their ffmpeg here, now.
    w.on('lockRenewalFailed', (jobIds: string[]) => {
      for (const id of jobIds) {
        log.warn('lost the lock of a job; stopping it here', { jobId: id });
        w.cancelJob(id, LOCK_LOST);
      }
    });
  }
  log.info('workers ready', { queues: QUEUE_NAMES, concurrency: config.workerConcurrency });

  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        for (const w of workers) w.cancelAllJobs(SHUTDOWN);
        await Promise.all(workers.map((w) => w.close()));
        await publisher.stop();
        await sink.close();
        await scratch.release();
        await queues.close();
        connection.disconnect();
        redis.disconnect();
        await db.destroy();
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  // What this process and its ffmpeg children create under DATA_DIR is theirs alone (0600 / 0700).
  process.umask(0o077);
  const forked = typeof process.send === 'function';
  const state: { running?: RunningWorkers } = {};
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    (state.running?.close() ?? Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Forked by `npm start`: if the parent dies, so do we (its IPC channel closes) -- even when
  // that happens while we are still starting up.
  process.once('disconnect', stop);
  state.running = await startWorkers(loadConfig());
  if (forked && !process.connected) stop();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
