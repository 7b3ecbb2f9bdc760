import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** Mails: an SMTP server may be away for hours; a sent mail's job id is kept a month (no resend). */
const MAIL_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 30_000, jitter: 0.2 },
  removeOnComplete: { age: 30 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
} satisfies JobsOptions;

/**
 * The one job catalogue: job name -> queue, payload schema, retry policy. Producers and
 * processors both type against it, so a job without a processor does not compile.
 */
export const jobCatalogue = {
  'transcode-vod': {
    queue: 'media',
    payload: z.object({ assetId: z.string().min(1) }),
    options: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
  },
  /** Thumbnails and storyboard of a live recording, after its replay is already published. */
  'replay-images': {
    queue: 'media',
    payload: z.object({ assetId: z.string().min(1) }),
    options: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 10_000 },
      removeOnComplete: { age: 24 * 3600, count: 1000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    } satisfies JobsOptions,
  },
  'retention-sweep': {
    queue: 'maintenance',
    payload: z.object({}),
    options: {
      attempts: 3,
      backoff: { type: 'exponential', delay: 60_000 },
      removeOnComplete: { count: 50 },
      removeOnFail: { count: 50 },
    } satisfies JobsOptions,
  },
  'live-stream': {
    queue: 'live',
    payload: z.object({ eventId: z.string().min(1) }),
    options: {
      // The loop survives ffmpeg and encoder failures itself; an attempt fails only on the unexpected.
      attempts: 20,
      backoff: { type: 'fixed', delay: 1000 },
      // The id (`live-<event>`) must be free again if the event is reopened.
      removeOnComplete: true,
      removeOnFail: true,
    } satisfies JobsOptions,
  },
  'send-email': {
    queue: 'email',
    payload: z.object({
      kind: z.enum(['confirmation', 'reminder', 'missed']),
      registrantId: z.string().min(1),
      /** The session (ISO start) the mail is about: a registrant who moved on gets none of the old ones. */
      sessionAt: z.string().min(1),
      offsetSeconds: z.number().int().min(0).optional(),
      /** Public base URL for links, from configuration (PUBLIC_URL or the server's own address). */
      baseUrl: z.string().min(1),
    }),
    options: MAIL_OPTIONS,
  },
  /**
   * Live and on-demand webinars: the mail that hands a registrant their personal links (join,
   * data page, unsubscribe), on registering and when the address is typed again elsewhere.
   */
  'send-access-link': {
    queue: 'email',
    payload: z.object({
      registrantId: z.string().min(1),
      reason: z.enum(['registered', 'again']),
      /** Public base URL for links, from configuration (PUBLIC_URL or the server's own address). */
      baseUrl: z.string().min(1),
    }),
    options: MAIL_OPTIONS,
  },
  /** Team mails: an invitation to join an account, or a password-reset link (signed by the worker). */
  'send-team-mail': {
    queue: 'email',
    payload: z.object({
      kind: z.enum(['invitation', 'password-reset']),
      /** The invitation id, or the user id of a reset. */
      id: z.string().min(1),
      /** When the reset link stops working (ms since the epoch); invitations carry their own. */
      expiresMs: z.number().int().optional(),
      /** Public base URL for links, from configuration (PUBLIC_URL or the server's own address). */
      baseUrl: z.string().min(1),
    }),
    options: MAIL_OPTIONS,
  },
  'deliver-webhook': {
    queue: 'webhooks',
    payload: z.object({
      webhookId: z.string().min(1),
      deliveryId: z.string().min(1),
      type: z.string().min(1),
      body: z.string(),
    }),
    options: {
      // About a day of retries: 10 s, 20 s, 40 s, ... capped by BullMQ's exponential growth.
      attempts: 12,
      backoff: { type: 'exponential', delay: 10_000, jitter: 0.2 },
      removeOnComplete: { age: 7 * 24 * 3600, count: 5000 },
      removeOnFail: { age: 30 * 24 * 3600 },
    } satisfies JobsOptions,
  },
} as const;

export type JobName = keyof typeof jobCatalogue;
export type JobPayload<N extends JobName> = z.infer<(typeof jobCatalogue)[N]['payload']>;
export type QueueName = (typeof jobCatalogue)[JobName]['queue'];

export const QUEUE_NAMES: readonly QueueName[] = [
  ...new Set(Object.values(jobCatalogue).map((j) => j.queue)),
];

/** Producer side: one BullMQ Queue per queue name, sharing a connection. */
export class JobQueues {
  readonly #queues = new Map<QueueName, Queue>();

  /** `onError` gets the queues' `error` events (without a listener, BullMQ prints each to stderr). */
  constructor(
    private readonly connection: Redis,
    private readonly onError?: (err: Error) => void,
  ) {}

  queue(name: QueueName): Queue {
    let q = this.#queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection });
      if (this.onError) q.on('error', this.onError);
      this.#queues.set(name, q);
    }
    return q;
  }

  /**
   * Adds a job; `jobId` makes the add idempotent (a second add of the same id is a no-op, also
   * after a restart), `delayMs` runs it later (reminders).
   */
  async add<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    jobId: string,
    opts: { delayMs?: number } = {},
  ): Promise<void> {
    const entry = jobCatalogue[name];
    const data = entry.payload.parse(payload);
    await this.queue(entry.queue).add(name, data, {
      ...entry.options,
      jobId,
      ...(opts.delayMs && opts.delayMs > 0 ? { delay: Math.round(opts.delayMs) } : {}),
    });
  }

  /** A repeating job (BullMQ job scheduler): upserting is idempotent across restarts and nodes. */
  async schedule<N extends JobName>(name: N, payload: JobPayload<N>, everyMs: number): Promise<void> {
    const entry = jobCatalogue[name];
    await this.queue(entry.queue).upsertJobScheduler(
      name,
      { every: everyMs },
      { name, data: entry.payload.parse(payload), opts: entry.options },
    );
  }

  async remove(name: JobName, jobId: string): Promise<void> {
    const job = await this.queue(jobCatalogue[name].queue).getJob(jobId);
    // An active job is locked by its worker; the worker notices the deleted asset itself.
    await job?.remove().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
  }
}
