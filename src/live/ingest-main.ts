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
import type { Admit, PublishProtocol, Refusal, RefusalCode } from './admission.ts';
import { decidePublish } from './publish-policy.ts';
import { startSrtGatekeeper } from './srt-gatekeeper.ts';
import { srtPassphrase } from './srt-passphrase.ts';
import { startWhipServer } from './whip-ingest.ts';
import {
  ingestPlaySecret,
  RTMP_APP,
  startRtmpIngest,
  type IngestSession,
  type RunningIngest,
} from './rtmp-ingest.ts';

/** The frame rate of browser streams once bridged (WebRTC sends a variable one). */
const WHIP_FPS = 30;

/** 127.0.0.0/8 or ::1, as node-media-server reports the peer (IPv4 may come mapped). */
function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return v4.startsWith('127.') || ip === '::1';
}

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
  const deploymentSecret = loadSecret(config.secret, config.dataDir, sharesDatabase(config));
  const secret = ingestPlaySecret(deploymentSecret);

  interface Active {
    eventId: string;
    record: PublisherRecord;
    session?: IngestSession;
    lastBytes: number;
    lastAt: number;
  }
  /** SRT or WHIP: a bridge ffmpeg publishes here, and says itself whether the presenter stopped. */
  const bridged = (a: { record: PublisherRecord }): boolean =>
    a.record.protocol === 'srt' || a.record.protocol === 'whip';
  const metrics = new Metrics('ingest');
  const publisher = new MetricsPublisher(metrics, redis, log);
  const refuse = (code: RefusalCode, reason: string): Refusal => {
    metrics.ingestRefusals.inc({ reason: code });
    return { ok: false, code, reason };
  };
  // Claims made between the key check and the library's postPublish, by address and key.
  const pending = new Map<string, Active>();
  // Publishing sessions by the library's session id.
  const active = new Map<string, Active>();
  // SRT and WHIP sessions admitted, by the one-time stream name their bridge publishes to.
  const bridging = new Map<string, Active>();
  let port = config.rtmpPort;

  /**
   * The one key check of every protocol: the event may take a stream now, and nobody else is
   * publishing to it (its single publisher slot in Redis, claimed here). Queues the live job.
   */
  async function admitPublisher(
    streamKey: string,
    ip: string,
    protocol: PublishProtocol,
  ): Promise<Refusal | { ok: true; claim: Active; srtPassphrase?: string }> {
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
      protocol,
    };
    if (!(await claimPublisher(redis, event.id, record))) {
      return refuse('busy', 'This stream key is already streaming from another encoder.');
    }
    await markStopped(redis, event.id, false);
    await clearEnded(redis, event.id);
    await queues.add('live-stream', { eventId: event.id }, liveJobId(event.id));
    log.info('publish accepted', { eventId: event.id, ip, protocol });
    return {
      ok: true,
      claim: { eventId: event.id, record, lastBytes: 0, lastAt: Date.now() },
      ...(event.srt_encrypted && event.stream_key
        ? { srtPassphrase: srtPassphrase(deploymentSecret, event.id, event.stream_key) }
        : {}),
    };
  }

  /** SRT and WHIP: admitted, then bridged into this ingest under a one-time stream name. */
  const admitBridge: Admit = async (streamKey, ip, protocol) => {
    const admitted = await admitPublisher(streamKey, ip, protocol).catch((err: unknown) => {
      log.error('publish check failed', { protocol, err: String(err) });
      return refuse('error', 'The stream key could not be checked: try again in a moment.');
    });
    if (!admitted.ok) return admitted;
    const name = `bridge-${crypto.randomBytes(16).toString('hex')}`;
    const claim = admitted.claim;
    bridging.set(name, claim);
    let over = false;
    return {
      ok: true,
      eventId: claim.eventId,
      rtmpUrl: `rtmp://127.0.0.1:${port}/${RTMP_APP}/${name}`,
      ...(protocol === 'srt' && admitted.srtPassphrase ? { srtPassphrase: admitted.srtPassphrase } : {}),
      end({ stopped }) {
        if (over) return;
        over = true;
        // Never published (ICE or the bridge failed): the slot goes now, not at its TTL.
        if (bridging.delete(name))
          void releasePublisher(redis, claim.eventId, claim.record.session).catch(() => undefined);
        if (stopped) void markStopped(redis, claim.eventId, true).catch(() => undefined);
        log.info(stopped ? 'presenter stopped' : 'bridge ended', { eventId: claim.eventId, protocol });
      },
    };
  };

  const ingest = await startRtmpIngest({
    port: config.rtmpPort,
    host: config.rtmpHost,
    playSecret: secret,
    dataDir: config.dataDir,
    log,
    hooks: {
      async authorize(app, streamKey, ip) {
        if (app !== RTMP_APP) return refuse('unknown_key', `Unknown application: use rtmp://.../${RTMP_APP}`);
        const bridge = bridging.get(streamKey);
        if (bridge) {
          // Only this ingest's own bridge knows the name, and it connects from this machine.
          if (!isLoopback(ip)) return refuse('unknown_key', 'Unknown stream key.');
          bridging.delete(streamKey);
          pending.set(`${ip}|${bridge.eventId}`, bridge);
          return { ok: true, streamName: bridge.eventId };
        }
        const admitted = await admitPublisher(streamKey, ip, 'rtmp');
        if (!admitted.ok) return admitted;
        pending.set(`${ip}|${admitted.claim.eventId}`, admitted.claim);
        return { ok: true, streamName: admitted.claim.eventId };
      },
      started(session) {
        const claim = pending.get(`${session.ip}|${session.streamName}`);
        pending.delete(`${session.ip}|${session.streamName}`);
        if (!claim) return session.disconnect();
        // A bridge's media begins now, seconds after its admission (ICE, the bridge's start): the
        // live job waits for the keyframe cadence from here.
        const record = bridged(claim) ? { ...claim.record, since: Date.now() } : claim.record;
        const a: Active = { ...claim, record, session };
        active.set(session.id, a);
        if (bridged(claim)) void refreshPublisher(redis, a.eventId, record).catch(() => undefined);
        metrics.ingestPublishers.set(active.size);
      },
      stopped(session) {
        const a = active.get(session.id);
        // A bridge's own RTMP goes the same way whether its presenter stopped or dropped: the
        // bridge reports which (WHIP DELETE, SRT SHUTDOWN) through its admission.
        if (a && !bridged(a)) void markStopped(redis, a.eventId, true).catch(() => undefined);
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

  // Browsers (WHIP) and SRT encoders: admitted by key first, then bridged into the RTMP ingest.
  const whip = config.whip
    ? await startWhipServer({
        port: config.whip.port,
        host: config.whip.host,
        admit: admitBridge,
        log,
        ffmpegPath: config.ffmpegPath,
        udpPortRange: config.whip.udpPorts,
        publicIp: config.whip.publicIp,
        allowLoopback: config.whip.allowLoopback,
        x264Preset: config.x264Preset,
        // Keyframes at every segment boundary: the live job then copies this rung (one encode).
        fps: WHIP_FPS,
        gopFrames: Math.max(1, Math.round(WHIP_FPS * config.live.segmentSeconds)),
      })
    : undefined;
  const srt = config.srt
    ? await startSrtGatekeeper({
        port: config.srt.port,
        host: config.srt.host,
        admit: admitBridge,
        log,
        latencyMs: config.srt.latencyMs,
        ffmpegPath: config.ffmpegPath,
      })
    : undefined;

  // Keep the publisher slots alive, measure the input bit rate and keyframe cadence (a new stream's
  // worker waits for the cadence to choose copy or encode), and cut streams of ended events.
  const timer = setInterval(() => {
    for (const a of [...active.values(), ...bridging.values()]) {
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
  if (whip) log.info('whip ingest listening', { port: whip.port });
  if (srt) log.info('srt ingest listening', { port: srt.port });
  return {
    port: ingest.port,
    async stop() {
      clearInterval(timer);
      await whip?.stop();
      await srt?.stop();
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
