import fsp from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import { findAsset, insertAsset, updateAsset } from '../src/db/assets.ts';
import { findEvent, updateEvent, type EventRow } from '../src/db/events.ts';
import { newId } from '../src/ids.ts';
import { finalizeHls } from '../src/media/hls-output.ts';
import { cutPoster, writePoster } from '../src/media/images.ts';
import { assetPrefix, revisionPrefix } from '../src/media/layout.ts';
import { LIVE_REVISION, type LiveRecording } from '../src/media/live-output.ts';
import { dropLivePlaylists } from '../src/live/live-playlists.ts';
import { LiveInterrupted, LiveSession, type LiveEndReason } from '../src/live/live-session.ts';
import { currentPublisher, markEnded, wasStopped, writeHealth } from '../src/live/live-state.ts';
import { ingestPlaySecret, signedPullUrl } from '../src/live/rtmp-ingest.ts';
import type { Logger } from '../src/log.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { emitWebhook } from '../src/services/webhooks.ts';
import { LOCK_LOST, type WorkerDeps } from './deps.ts';

export type LiveJob = Job<JobPayload<'live-stream'>>;

/** Marks the recording asset of a live event (`source_key`), so it is never sent to the VOD transcoder. */
export function liveSourceKey(eventId: string): string {
  return `live/${eventId}`;
}

/** What each end means to a person reading the log or the `live.ended` webhook. */
const END_WORDS: Record<LiveEndReason | 'replay-again', string> = {
  'presenter-stopped': 'presenter stopped',
  'encoder-gone': 'encoder did not come back',
  'organiser-ended': 'ended by the organiser',
  deleted: 'deleted',
  'replay-again': 'publishing the replay again',
};

/**
 * The live job: one per live event, for as long as the event is live (it keeps its BullMQ lock,
 * so a dead worker's stream is taken over by another within seconds). It is the runner of a
 * `LiveSession`: it records what the session reports (the event's `live_status`, webhooks, health)
 * and, once the stream ends, publishes the recording as the replay -- the same segments, no
 * re-encode. What a worker taking over needs is in storage (`LiveOutput`), never on a local disk.
 */
export function createLiveStreamProcessor(deps: WorkerDeps) {
  const { db, config, log, redis } = deps;
  const playSecret = ingestPlaySecret(deps.secret);

  return async function processLiveStream(job: LiveJob, token?: string, signal?: AbortSignal): Promise<void> {
    const { eventId } = job.data;
    const event = await findEvent(db, eventId);
    if (!event || event.type !== 'live') return;
    const jobLog = log.child({ eventId, jobId: job.id });
    const replayAgain = event.live_status === 'ended';
    if (replayAgain) {
      // Ended, but an earlier attempt may have died while publishing the replay: finish that.
      const recording = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
      if (!recording || recording.source_key !== liveSourceKey(eventId) || recording.status !== 'processing')
        return;
    }
    const assetId = await ensureRecording(deps, event);
    const session = await LiveSession.open({
      eventId,
      assetId,
      storage: deps.storage,
      redis,
      lowLatency: config.live.lowLatency && event.low_latency !== 0,
      log: jobLog,
      config,
      ended: replayAgain,
      pullUrl: (publisher) => signedPullUrl(publisher.ingestHost, publisher.ingestPort, eventId, playSecret),
      watch: {
        publisher: () => currentPublisher(redis, eventId),
        presenterStopped: () => wasStopped(redis, eventId),
        async over() {
          const row = await findEvent(db, eventId);
          return !row ? 'deleted' : row.ended_at ? 'organiser-ended' : undefined;
        },
      },
    });
    const status = new EventStatus(deps, event, jobLog);
    jobLog.info(session.resumed ? 'live job resumed' : 'live job started', {
      periods: session.output.periods,
    });

    let reason: LiveEndReason | 'replay-again' = 'replay-again';
    if (!replayAgain) {
      session
        .on('on-air', () => status.onAir(session.output.layout?.ladder.rungs.map((r) => r.name) ?? []))
        .on('stalled', async (stall) => {
          if (stall.why === 'encoder-dropped') await status.reconnecting(stall.graceSeconds);
          else jobLog.warn('live encoder falling behind', { speed: stall.speed });
        })
        .on('health', async (stats) => {
          const labels = { event: eventId };
          if (stats.speed !== null) deps.metrics.liveSpeed.set(labels, stats.speed);
          else deps.metrics.liveSpeed.set(labels, 0);
          if (stats.inputBitrate !== null) deps.metrics.liveInputBitrate.set(labels, stats.inputBitrate);
          if (stats.fps !== null) deps.metrics.liveFps.set(labels, stats.fps);
          await writeHealth(redis, eventId, {
            ...stats,
            status: status.current,
            droppedSegments: Math.round(stats.droppedSeconds / config.live.segmentSeconds),
            updatedAt: new Date().toISOString(),
          });
          await job.updateProgress({ status: status.current, periods: stats.periods, speed: stats.speed });
        });
      try {
        reason = await session.run({
          ...(signal ? { signal } : {}),
          abandon: (why) => why === LOCK_LOST,
        });
        deps.metrics.forgetLiveStream(eventId);
      } catch (err) {
        deps.metrics.forgetLiveStream(eventId);
        if (!(err instanceof LiveInterrupted)) throw err;
        if (err.abandoned || !token) {
          // Another worker may hold the job now: this one stopped its ffmpeg and touches nothing more.
          jobLog.warn('live job stopped here', { why: String(err.reason) });
          throw err;
        }
        // Shutting down: hand the stream to another worker at once, without spending an attempt.
        jobLog.info('handing the live stream over');
        await job.moveToDelayed(Date.now() + 100, token);
        throw new DelayedError();
      }
    }

    await markEnded(redis, eventId);
    if (reason === 'deleted') {
      await deps.storage.deletePrefix(assetPrefix(assetId));
      await dropLivePlaylists(redis, assetId, session.output.files());
      jobLog.info('live event deleted: recording removed');
      return;
    }
    const recording = await session.finish();
    await status.ended(END_WORDS[reason]);
    await publishReplay(deps, jobLog, { assetId, eventId, event, recording });
    await dropLivePlaylists(redis, assetId, session.output.files());
  };
}

/** The recording's asset row, created with the event's first stream (a takeover finds it). */
async function ensureRecording(deps: WorkerDeps, e: EventRow): Promise<string> {
  const current = e.asset_id ? await findAsset(deps.db, e.asset_id) : undefined;
  if (current && current.source_key === liveSourceKey(e.id)) return current.id;
  const id = newId('as');
  await insertAsset(deps.db, {
    id,
    accountId: e.account_id,
    title: `${e.title} (live recording)`,
    sourceKey: liveSourceKey(e.id),
    sourceBytes: 0,
    sourceName: undefined,
  });
  await updateAsset(deps.db, id, { status: 'processing', stage: 'live', preview_revision: LIVE_REVISION });
  await updateEvent(deps.db, e.id, { asset_id: id });
  return id;
}

/** The event row's `live_status` as the session's events move it, and the webhooks that go with it. */
class EventStatus {
  #event: EventRow;

  constructor(
    private readonly deps: WorkerDeps,
    event: EventRow,
    private readonly log: Logger,
  ) {
    this.#event = event;
  }

  get current(): string {
    return this.#event.live_status ?? 'idle';
  }

  /** Viewers see the stream: `live`, and `live.started` the first time ever (not after a reconnect). */
  async onAir(renditions: readonly string[]): Promise<void> {
    const e = this.#event;
    if (e.live_status === 'live') return;
    const first = !e.live_started_at;
    const startedAt = e.live_started_at ?? new Date().toISOString();
    await updateEvent(this.deps.db, e.id, { live_status: 'live', live_started_at: startedAt });
    this.#event = { ...e, live_status: 'live', live_started_at: startedAt };
    if (!first) return;
    this.log.info('live', { renditions });
    await emitWebhook(this.deps.db, this.deps.queues, e.account_id, 'live.started', e.id, {
      eventId: e.id,
      webinarId: e.webinar_id,
      startedAt,
    });
  }

  /** The encoder dropped while live: the event stays up for the grace period. */
  async reconnecting(graceSeconds: number): Promise<void> {
    const e = this.#event;
    if (e.live_status !== 'live') return;
    await updateEvent(this.deps.db, e.id, { live_status: 'reconnecting' });
    this.#event = { ...e, live_status: 'reconnecting' };
    this.log.info('encoder dropped; waiting for it to come back', { graceSeconds });
  }

  async ended(why: string): Promise<void> {
    const e = (await findEvent(this.deps.db, this.#event.id)) ?? this.#event;
    const endedAt = new Date().toISOString();
    await updateEvent(this.deps.db, e.id, {
      live_status: 'ended',
      ...(e.ended_at ? {} : { ended_at: endedAt }),
    });
    this.#event = { ...e, live_status: 'ended' };
    this.log.info('live ended', { why });
    await emitWebhook(this.deps.db, this.deps.queues, e.account_id, 'live.ended', e.id, {
      eventId: e.id,
      webinarId: e.webinar_id,
      endedAt: e.ended_at ?? endedAt,
      reason: why,
    });
  }
}

/**
 * The replay: the recording's segments under VOD playlists (discontinuities kept) and a measured
 * master, written by `finalizeHls` into the same revision; a poster; the asset row flipped last.
 */
async function publishReplay(
  deps: WorkerDeps,
  log: Logger,
  o: { assetId: string; eventId: string; event: EventRow; recording: LiveRecording | undefined },
): Promise<void> {
  const { db, storage } = deps;
  const { assetId, recording } = o;
  if (!recording || recording.seconds === 0) {
    await updateAsset(db, assetId, {
      status: 'failed',
      stage: 'failed',
      preview_revision: null,
      error: 'The live stream produced no video, so there is no recording.',
    });
    return;
  }
  const prefix = revisionPrefix(assetId, LIVE_REVISION);
  const { layout, playlists, sizes, seconds } = recording;
  const renditions = await finalizeHls(storage, prefix, layout.ladder, layout.audio, playlists, sizes);
  const hasPoster = await makePoster(deps, log, prefix, recording);
  await updateAsset(db, assetId, {
    status: 'ready',
    stage: 'done',
    progress: 100,
    error: null,
    revision: LIVE_REVISION,
    preview_revision: null,
    duration_seconds: seconds,
    renditions_json: JSON.stringify(renditions),
    has_poster: hasPoster ? 1 : 0,
    ready_at: new Date().toISOString(),
  });
  log.info('replay ready', { assetId, seconds: Math.round(seconds) });
  await deps.queues.add('replay-images', { assetId }, `images-${assetId}`);
  await emitWebhook(db, deps.queues, o.event.account_id, 'asset.ready', assetId, {
    assetId,
    eventId: o.eventId,
    durationSeconds: seconds,
  });
}

/** The poster is a nicety: a replay without one is still a replay (the failure is logged). */
async function makePoster(
  deps: WorkerDeps,
  log: Logger,
  prefix: string,
  recording: LiveRecording,
): Promise<boolean> {
  const top = recording.layout.ladder.rungs[0]!.name;
  const scratch = await fsp.mkdtemp(path.join(deps.scratchDir, 'live-poster-'));
  try {
    const frame = await cutPoster(
      deps.storage,
      `${prefix}/${top}`,
      recording.playlists.get(top)!,
      Math.min(recording.seconds * 0.1, 10),
      scratch,
      deps.config.ffmpegPath,
    );
    if (!frame) return false;
    await writePoster(deps.storage, prefix, frame);
    return true;
  } catch (err) {
    log.warn('no poster for the replay', { err: err instanceof Error ? err.message : String(err) });
    return false;
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}
