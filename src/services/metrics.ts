import os from 'node:os';
import type { Redis } from 'ioredis';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Logger } from '../log.ts';

/** The process roles of a deployment (`npm start` runs them all on one machine). */
export type Role = 'api' | 'worker' | 'ingest';

/** What the origin answers, by the file asked for (a bounded label: never the path itself). */
/** `blocking`: an LL-HLS playlist request held until what it asks for is listed (its time is mostly waiting). */
export type OriginKind = 'playlist' | 'blocking' | 'segment' | 'init' | 'image' | 'other';

/**
 * One process's Prometheus metrics (prom-client), on a registry of its own with `role` and
 * `instance` (host:pid) labels. Each process publishes a snapshot to Redis every few seconds
 * (`MetricsPublisher`); any API process answers `/metrics` with every live process's snapshot
 * (`deploymentMetrics`), so one scrape target shows api, workers and ingest on machines that share
 * nothing but Redis, and the snapshots double as the presence list `/status` reads.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly role: Role;
  readonly instance: string;

  readonly originRequests: Counter<'kind' | 'status'>;
  readonly originBytes: Counter<'kind'>;
  readonly originSeconds: Histogram<'kind'>;
  readonly originCache: Counter<'result'>;
  readonly storageReads: Counter<'op'>;
  readonly apiRequests: Counter<'status'>;
  readonly apiSeconds: Histogram;
  readonly jobs: Counter<'queue' | 'name' | 'outcome'>;
  readonly jobSeconds: Histogram<'queue' | 'name'>;
  readonly liveSpeed: Gauge<'event'>;
  readonly liveInputBitrate: Gauge<'event'>;
  readonly liveFps: Gauge<'event'>;
  readonly viewerBehindLive: Histogram<'type'>;
  readonly viewerStalls: Counter<'type'>;
  readonly viewerStalledSeconds: Counter<'type'>;
  readonly ingestPublishers: Gauge;
  readonly ingestRefusals: Counter<'reason'>;

  constructor(role: Role, running: { ffmpeg?: () => number } = {}) {
    this.role = role;
    this.instance = `${os.hostname()}:${process.pid}`;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ role, instance: this.instance });
    collectDefaultMetrics({ register: this.registry, prefix: 'onair_' });

    this.originRequests = new Counter({
      name: 'onair_origin_requests_total',
      help: 'Requests to the HLS origin (/s/...), by file kind and status code.',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.originBytes = new Counter({
      name: 'onair_origin_sent_bytes_total',
      help: 'Body bytes the origin sent, by file kind.',
      labelNames: ['kind'],
      registers,
    });
    this.originSeconds = new Histogram({
      name: 'onair_origin_request_duration_seconds',
      help: 'Time from request to the last byte sent, by file kind.',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.originCache = new Counter({
      name: 'onair_origin_cache_lookups_total',
      help: "Lookups in the origin's memory cache: hit (answered from memory) or miss (read from storage).",
      labelNames: ['result'],
      registers,
    });
    this.storageReads = new Counter({
      name: 'onair_origin_storage_reads_total',
      help: 'Storage calls made by the origin (stat, read): one per object however many viewers ask at once.',
      labelNames: ['op'],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'onair_http_requests_total',
      help: 'Requests to the API and pages (everything but the origin), by status code class.',
      labelNames: ['status'],
      registers,
    });
    this.apiSeconds = new Histogram({
      name: 'onair_http_request_duration_seconds',
      help: 'Time from request to the last byte sent, API and pages.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.jobs = new Counter({
      name: 'onair_jobs_total',
      help: 'Jobs this worker finished, by queue, job name and outcome (completed, failed).',
      labelNames: ['queue', 'name', 'outcome'],
      registers,
    });
    this.jobSeconds = new Histogram({
      name: 'onair_job_duration_seconds',
      help: 'Time a job ran on this worker (its last attempt).',
      labelNames: ['queue', 'name'],
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 14400],
      registers,
    });
    this.liveSpeed = new Gauge({
      name: 'onair_live_encoder_speed',
      help: 'Media seconds encoded per wall second for each live stream this worker runs (below 1 falls behind).',
      labelNames: ['event'],
      registers,
    });
    this.liveInputBitrate = new Gauge({
      name: 'onair_live_input_bitrate_bps',
      help: "The presenter's input bitrate for each live stream this worker runs.",
      labelNames: ['event'],
      registers,
    });
    this.liveFps = new Gauge({
      name: 'onair_live_encoder_fps',
      help: 'Frames encoded per second for each live stream this worker runs.',
      labelNames: ['event'],
      registers,
    });
    // A stream counts from its first health report to its end (the label sets of the speed gauge).
    const speed = this.liveSpeed;
    new Gauge({
      name: 'onair_live_streams',
      help: 'Live streams this worker is running.',
      registers,
      async collect() {
        this.set((await speed.get()).values.length);
      },
    });
    this.viewerBehindLive = new Histogram({
      name: 'onair_viewer_behind_live_seconds',
      help: "How far behind the live edge viewers' players are, as their heartbeats report it, by event type.",
      labelNames: ['type'],
      buckets: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60],
      registers,
    });
    this.viewerStalls = new Counter({
      name: 'onair_viewer_stalls_total',
      help: "Times viewers' playback stopped to wait for data, as their heartbeats report it, by event type.",
      labelNames: ['type'],
      registers,
    });
    this.viewerStalledSeconds = new Counter({
      name: 'onair_viewer_stalled_seconds_total',
      help: 'Seconds viewers spent waiting for data, by event type.',
      labelNames: ['type'],
      registers,
    });
    this.ingestPublishers = new Gauge({
      name: 'onair_ingest_publishers',
      help: 'Presenters connected to this ingest.',
      registers,
    });
    this.ingestRefusals = new Counter({
      name: 'onair_ingest_refusals_total',
      help: 'Publish attempts refused before any media was accepted, by reason.',
      labelNames: ['reason'],
      registers,
    });
    const ffmpeg = running.ffmpeg;
    if (ffmpeg) {
      new Gauge({
        name: 'onair_ffmpeg_processes',
        help: 'ffmpeg processes this process is running.',
        registers,
        collect() {
          this.set(ffmpeg());
        },
      });
    }
  }

  /** Forgets a live stream's gauges (it ended, or moved to another worker). */
  forgetLiveStream(event: string): void {
    for (const gauge of [this.liveSpeed, this.liveInputBitrate, this.liveFps]) gauge.remove({ event });
  }
}

/** Snapshots are published this often; one older than SNAPSHOT_TTL_MS is a process that is gone. */
const PUBLISH_MS = 5_000;
const SNAPSHOT_TTL_MS = 20_000;
const MEMBERS_KEY = 'metrics:members';
const snapshotKey = (role: Role, instance: string) => `metrics:${role}:${instance}`;

/** Publishes this process's snapshot to Redis every PUBLISH_MS (skipped while Redis is away). */
export class MetricsPublisher {
  readonly #timer: NodeJS.Timeout;
  #publishing = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {
    this.#timer = setInterval(() => void this.publish(), PUBLISH_MS);
    this.#timer.unref();
    void this.publish();
  }

  async publish(): Promise<void> {
    if (this.#publishing || this.redis.status !== 'ready') return;
    this.#publishing = true;
    try {
      const key = snapshotKey(this.metrics.role, this.metrics.instance);
      const json = JSON.stringify(await this.metrics.registry.getMetricsAsJSON());
      await this.redis
        .multi()
        .set(key, json, 'PX', SNAPSHOT_TTL_MS)
        .zadd(MEMBERS_KEY, Date.now(), key)
        .exec();
    } catch (err) {
      this.log.debug('metrics snapshot not published', { reason: (err as Error).message });
    } finally {
      this.#publishing = false;
    }
  }

  /** Stops publishing and withdraws the snapshot (a clean stop is not an outage on /status). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (this.redis.status !== 'ready') return;
    const key = snapshotKey(this.metrics.role, this.metrics.instance);
    await this.redis
      .multi()
      .del(key)
      .zrem(MEMBERS_KEY, key)
      .exec()
      .catch((err: unknown) =>
        this.log.debug('metrics snapshot not withdrawn', { reason: (err as Error).message }),
      );
  }
}

/** Every process with a fresh snapshot, by role: what `/status` reports as up. */
export interface Snapshot {
  role: Role;
  instance: string;
  metrics: MetricObjectWithValues<MetricValue<string>>[];
}

/** The snapshots of every process that published within SNAPSHOT_TTL_MS (at most `limit`). */
export async function readSnapshots(redis: Redis, limit = 500): Promise<Snapshot[]> {
  const now = Date.now();
  await redis.zremrangebyscore(MEMBERS_KEY, '-inf', now - SNAPSHOT_TTL_MS);
  const keys = await redis.zrangebyscore(MEMBERS_KEY, now - SNAPSHOT_TTL_MS, '+inf', 'LIMIT', 0, limit);
  if (keys.length === 0) return [];
  const texts = await redis.mget(...keys);
  const out: Snapshot[] = [];
  for (const [i, key] of keys.entries()) {
    const text = texts[i];
    const match = /^metrics:(api|worker|ingest):(.+)$/.exec(key);
    if (!text || !match) continue;
    out.push({
      role: match[1] as Role,
      instance: match[2]!,
      metrics: JSON.parse(text) as Snapshot['metrics'],
    });
  }
  return out;
}

/**
 * The deployment's metrics as Prometheus text: this process's own registry (fresh), every other
 * process's last snapshot, and `extra` (gauges computed for this scrape: queue depths, viewers).
 */
export async function deploymentMetrics(
  own: Metrics,
  redis: Redis | undefined,
  extra: Registry,
): Promise<{ text: string; contentType: string }> {
  const ownJson = await own.registry.getMetricsAsJSON();
  const others =
    redis?.status === 'ready'
      ? (await readSnapshots(redis)).filter((s) => !(s.role === own.role && s.instance === own.instance))
      : [];
  const merged = AggregatorRegistry.aggregate([
    ownJson,
    ...others.map((s) => s.metrics),
    await extra.getMetricsAsJSON(),
  ]);
  return { text: await merged.metrics(), contentType: merged.contentType };
}
