import crypto from 'node:crypto';
import { loadConfig, type Config } from '../config.ts';
import { migrateToLatest, openDatabase } from '../db/database.ts';
import { findEventByStreamKey } from '../db/events.ts';
import { createLogger } from '../log.ts';
import { JobQueues } from '../queue/catalogue.ts';
import { connectRedis, RedisOutageLog } from '../queue/redis.ts';
import { Metrics, MetricsPublisher } from '../services/metrics.ts';
import { loadSecret, sharesDatabase } from '../services/secret.ts';
import {
  claimPublisher,
  clearEnded,
  isEnded,
  markStopped,
  refreshPublisher,
  releasePublisher,
  type PublisherRecord,
} from './live-state.ts';
import { decidePublish } from './publish-policy.ts';
import {
  ingestPlaySecret,
  RTMP_APP,
  startRtmpIngest,
  type IngestSession,
  type RunningIngest,
} from './rtmp-ingest.ts';

export function liveJobId(eventId: string): string {
  return `live-${eventId}`;
}

/**
 * The RTMP ingest process: checks stream keys before acknowledging a publish, holds the event's
 * publisher slot in Redis while the connection lasts, and queues the live job that turns the
 * feed into HLS. Runnable alone (`npm run ingest`) or forked by `npm start`.
 */
export async function startIngest(config: Config): Promise<RunningIngest> {
  if (!config.redisUrl) throw new Error('REDIS_URL is required to run the ingest on its own');
  const log = createLogger(config.logLevel, { role: 'ingest', pid: process.pid });
  const db = openDatabase(config);
  await migrateToLatest(db);
  const outages = new RedisOutageLog(log);
  const redis = connectRedis(config.redisUrl, outages);
  const queues = new JobQueues(redis, outages.onError);
  const secret = ingestPlaySecret(loadSecret(config.secret, config.dataDir, sharesDatabase(config)));

  interface Active {
    eventId: string;
    record: PublisherRecord;
    session?: IngestSession;
    lastBytes: number;
    lastAt: number;
  }
  const metrics = new Metrics('ingest');
  const publisher = new MetricsPublisher(metrics, redis, log);
  const refuse = (reason: string, words: string) => {
    metrics.ingestRefusals.inc({ reason });
    return { ok: false as const, reason: words };
  };
  // Claims made between the key check and the library's postPublish, by address and key.
  const pending = new Map<string, Active>();
  // Publishing sessions by the library's session id.
  const active = new Map<string, Active>();
  let port = config.rtmpPort;

  const ingest = await startRtmpIngest({
    port: config.rtmpPort,
    host: config.rtmpHost,
    playSecret: secret,
    dataDir: config.dataDir,
    log,
    hooks: {
      async authorize(app, streamKey, ip) {
        if (app !== RTMP_APP) return refuse('application', `Unknown application: use rtmp://.../${RTMP_APP}`);
        const event = await findEventByStreamKey(db, streamKey);
        const decision = decidePublish(event, Date.now(), config.live.earlyMinutes);
        if (!decision.ok) return refuse(decision.code, decision.reason);
        if (!event) return refuse('unknown_key', 'Unknown stream key.');
        // Where workers pull from; they sign the URL themselves, by the event id (the stream's
        // name inside the ingest): Redis, and its AOF, never hold the key or a usable URL.
        const record: PublisherRecord = {
          session: crypto.randomUUID(),
          ingestHost: config.ingestAdvertiseHost,
          ingestPort: port,
          since: Date.now(),
          inputBitrate: 0,
        };
        if (!(await claimPublisher(redis, event.id, record))) {
          return refuse('busy', 'This stream key is already streaming from another encoder.');
        }
        await markStopped(redis, event.id, false);
        await clearEnded(redis, event.id);
        pending.set(`${ip}|${event.id}`, { eventId: event.id, record, lastBytes: 0, lastAt: Date.now() });
        await queues.add('live-stream', { eventId: event.id }, liveJobId(event.id));
        log.info('publish accepted', { eventId: event.id, ip });
        return { ok: true, streamName: event.id };
      },
      started(session) {
        const claim = pending.get(`${session.ip}|${session.streamName}`);
        pending.delete(`${session.ip}|${session.streamName}`);
        if (claim) active.set(session.id, { ...claim, session });
        else session.disconnect();
        metrics.ingestPublishers.set(active.size);
      },
      stopped(session) {
        const a = active.get(session.id);
        if (a) void markStopped(redis, a.eventId, true).catch(() => undefined);
      },
      closed(session) {
        const a = active.get(session.id);
        active.delete(session.id);
        metrics.ingestPublishers.set(active.size);
        if (a) {
          void releasePublisher(redis, a.eventId, a.record.session).catch(() => undefined);
          log.info('publisher left', { eventId: a.eventId });
        }
      },
    },
  });
  port = ingest.port;

  // Keep the publisher slots alive, measure the input bit rate and keyframe cadence (a new stream's
  // worker waits for the cadence to choose copy or encode), and cut streams of ended events.
  const timer = setInterval(() => {
    for (const a of active.values()) {
      void (async () => {
        const bytes = a.session?.inBytes() ?? a.lastBytes;
        const now = Date.now();
        const bitrate = Math.round(((bytes - a.lastBytes) * 8 * 1000) / Math.max(1, now - a.lastAt));
        a.lastBytes = bytes;
        a.lastAt = now;
        const keyframeSeconds = a.session?.keyframeSeconds();
        a.record = { ...a.record, inputBitrate: bitrate, ...(keyframeSeconds ? { keyframeSeconds } : {}) };
        const held = await refreshPublisher(redis, a.eventId, a.record);
        if (!held || (await isEnded(redis, a.eventId))) a.session?.disconnect();
      })().catch(() => undefined);
    }
  }, 1000);
  timer.unref();

  log.info('rtmp ingest listening', { port: ingest.port });
  return {
    port: ingest.port,
    async stop() {
      clearInterval(timer);
      await publisher.stop();
      await ingest.stop();
      for (const a of active.values())
        await releasePublisher(redis, a.eventId, a.record.session).catch(() => undefined);
      await queues.close();
      redis.disconnect();
      await db.destroy();
    },
  };
}

async function main(): Promise<void> {
  // What this process creates under DATA_DIR is its alone (0600 / 0700).
  process.umask(0o077);
  const state: { running?: RunningIngest } = {};
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    (state.running?.stop() ?? Promise.resolve()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
  state.running = await startIngest(loadConfig());
  process.send?.({ type: 'ingest-ready', port: state.running.port });
  if (typeof process.send === 'function' && !process.connected) stop();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
