import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, type Job } from 'bullmq';
import { ProgressReader } from '../pipelines/ffmpeg-progress.ts';
import type { MediaSegment } from '../pipelines/hls-playlist.ts';
import { buildLiveTranscodeArgs, canPassThrough } from '../pipelines/live-args.ts';
import { judgeLiveSource } from '../pipelines/source-facts.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../pipelines/vod-ladder.ts';
import { findAsset, insertAsset, updateAsset } from '../src/db/assets.ts';
import { findEvent, updateEvent, type EventRow } from '../src/db/events.ts';
import { newId } from '../src/ids.ts';
import { lastErrorLine, probeMedia, reapFfmpeg, spawnFfmpeg } from '../src/media/ffmpeg.ts';
import { finalizeHls, writePreviewMaster } from '../src/media/hls-output.ts';
import { cutPoster, writePoster } from '../src/media/images.ts';
import { revisionPrefix } from '../src/media/layout.ts';
import {
  LIVE_REVISION,
  LivePlaylistWriter,
  listPeriods,
  periodName,
  readLayout,
  writeLayout,
  type LiveLayout,
} from '../src/media/live-output.ts';
import {
  FALLING_BEHIND_SPEED,
  currentPublisher,
  markEnded,
  wasStopped,
  writeHealth,
  type PublisherRecord,
} from '../src/live/live-state.ts';
import { ingestPlaySecret, redactStreamKeys, signedPullUrl } from '../src/live/rtmp-ingest.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { emitWebhook } from '../src/services/webhooks.ts';
import type { WorkerDeps } from './deps.ts';

export type LiveJob = Job<JobPayload<'live-stream'>>;

const TICK_MS = 200;
const WORK_DIR = '.work';

interface RunningPeriod {
  readonly name: string;
  readonly session: string;
  readonly passthrough: boolean;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stderr: string;
  fps: number | undefined;
  speed: number | undefined;
  droppedFrames: number;
  /** (wall ms, media seconds) samples of the last few seconds, for the encoder's current speed. */
  samples: { wall: number; out: number }[];
}

/** Media seconds encoded per wall second over the last ~5 s (ffmpeg's own figure is since start). */
function currentSpeed(period: RunningPeriod): number | undefined {
  const first = period.samples[0];
  const last = period.samples.at(-1);
  if (!first || !last || last.wall - first.wall < 2000) return undefined;
  return (last.out - first.out) / ((last.wall - first.wall) / 1000);
}

/** Marks the recording asset of a live event (`source_key`), so it is never sent to the VOD transcoder. */
export function liveSourceKey(eventId: string): string {
  return `live/${eventId}`;
}

/**
 * The live job: one per live event, for as long as the event is live (it keeps its BullMQ lock,
 * so a dead worker's stream is taken over by another within seconds). Each encoder connection is
 * a period with its own ffmpeg; the job stitches periods into the live playlists (discontinuity
 * between them), waits out the reconnect grace period when the encoder drops, and at the end
 * publishes the recording as the replay -- the same segments, no re-encode.
 */
export function createLiveStreamProcessor(deps: WorkerDeps) {
  const { db, storage, config, log, redis } = deps;
  const playSecret = ingestPlaySecret(deps.secret);

  return async function processLiveStream(job: LiveJob, token?: string, signal?: AbortSignal): Promise<void> {
    const { eventId } = job.data;
    let event = await findEvent(db, eventId);
    if (!event || event.type !== 'live') return;
    const jobLog = log.child({ eventId, jobId: job.id });
    if (event.live_status === 'ended') {
      // Ended, but an earlier attempt may have died while publishing the replay: finish that.
      const recording = event.asset_id ? await findAsset(db, event.asset_id) : undefined;
      if (!recording || recording.source_key !== liveSourceKey(eventId) || recording.status !== 'processing')
        return;
    }
    const assetId = await ensureRecording(event);
    const outDir = storage.localDir(revisionPrefix(assetId, LIVE_REVISION));
    if (!outDir) throw new Error('live streams need local storage for the live edge');
    const workDir = path.join(outDir, WORK_DIR);
    await fsp.mkdir(workDir, { recursive: true });
    // A previous worker's ffmpeg (it died, or lost the lock) must not write on.
    for (const name of await fsp.readdir(workDir).catch(() => [] as string[])) {
      if (name.endsWith('.pid')) reapFfmpeg(path.join(workDir, name));
    }

    let layout = await readLayout(outDir);
    let writer = layout ? newWriter(outDir, layout) : undefined;
    let running: RunningPeriod | undefined;
    let lastPublisherAt = Date.now();
    let nextEventCheck = 0;
    let nextHealth = 0;
    let slowSamples = 0;
    let masterWritten = Boolean(layout && fs.existsSync(path.join(outDir, 'master.m3u8')));
    let periods = layout ? (await listPeriods(outDir, layout)).length : 0;
    let droppedSeconds = 0;
    let lastPeriodEndedAt: number | undefined;
    let endReason: string;
    let takenOver = periods > 0;
    jobLog.info(takenOver ? 'live job resumed' : 'live job started', { periods });

    try {
      for (;;) {
        if (event.live_status === 'ended') {
          endReason = 'publishing the replay again';
          break;
        }
        if (signal?.aborted) throw new HandBack();
        const now = Date.now();
        if (now >= nextEventCheck) {
          nextEventCheck = now + 1000;
          event = await findEvent(db, eventId);
          if (!event) {
            endReason = 'deleted';
            break;
          }
          if (event.ended_at) {
            endReason = 'ended by the organiser';
            break;
          }
        }
        const publisher = await currentPublisher(redis, eventId);
        if (publisher) lastPublisherAt = now;

        if (running && (!publisher || publisher.session !== running.session)) {
          await stopPeriod(running, 'publisher left');
          running = undefined;
          lastPeriodEndedAt = Date.now();
        }
        if (running && running.child.exitCode !== null) {
          jobLog.warn('live ffmpeg exited', { reason: redactStreamKeys(lastErrorLine(running.stderr)) });
          running = undefined;
          lastPeriodEndedAt = Date.now();
        }
        if (!running && publisher) {
          if (lastPeriodEndedAt !== undefined || takenOver) {
            droppedSeconds += (Date.now() - (lastPeriodEndedAt ?? Date.now())) / 1000;
          }
          takenOver = false;
          const started = await startPeriod(publisher, periods + 1).catch((err: unknown) => {
            jobLog.warn('could not start a live period', {
              err: err instanceof Error ? err.message : String(err),
            });
            return undefined;
          });
          if (started) {
            running = started;
            periods += 1;
          } else await sleep(1000);
        }
        if (!publisher) {
          if (await wasStopped(redis, eventId)) {
            endReason = 'presenter stopped';
            break;
          }
          if (now - lastPublisherAt > config.live.reconnectGraceSeconds * 1000) {
            endReason = 'encoder did not come back';
            break;
          }
          if (event.live_status === 'live') {
            await updateEvent(db, eventId, { live_status: 'reconnecting' });
            event = { ...event, live_status: 'reconnecting' };
            jobLog.info('encoder dropped; waiting for it to come back', {
              graceSeconds: config.live.reconnectGraceSeconds,
            });
          }
        }

        if (writer && layout) {
          await writer.publish(running?.name, false);
          if (!masterWritten && (await writePreviewMaster(outDir, layout.ladder, layout.audio, undefined))) {
            masterWritten = true;
          }
          if (masterWritten && running && event.live_status !== 'live') {
            const first = !event.live_started_at;
            const startedAt: string = event.live_started_at ?? new Date().toISOString();
            await updateEvent(db, eventId, { live_status: 'live', live_started_at: startedAt });
            event = { ...event, live_status: 'live', live_started_at: startedAt };
            if (first) {
              jobLog.info('live', { renditions: layout.ladder.rungs.map((r) => r.name) });
              await emitWebhook(db, deps.queues, event.account_id, 'live.started', eventId, {
                eventId,
                webinarId: event.webinar_id,
                startedAt,
              });
            }
          }
        }
        if (now >= nextHealth) {
          nextHealth = now + 2000;
          const speed = running?.speed;
          slowSamples = speed !== undefined && speed < FALLING_BEHIND_SPEED ? slowSamples + 1 : 0;
          if (slowSamples === 3) jobLog.warn('live encoder falling behind', { speed });
          await writeHealth(redis, eventId, {
            status: event.live_status,
            inputBitrate: publisher?.inputBitrate ?? null,
            fps: running?.fps ?? null,
            speed: speed ?? null,
            droppedFrames: running?.droppedFrames ?? 0,
            droppedSeconds: Math.round(droppedSeconds * 10) / 10,
            droppedSegments: Math.round(droppedSeconds / config.live.segmentSeconds),
            periods,
            passthrough: running?.passthrough ?? false,
            renditions: layout ? layout.ladder.rungs.map((r) => r.name) : [],
            updatedAt: new Date().toISOString(),
          });
          await job.updateProgress({ status: event.live_status, periods, speed: speed ?? null });
        }
        await sleep(TICK_MS);
      }
    } catch (err) {
      if (running) await stopPeriod(running, 'job stopping', true);
      if (err instanceof HandBack && token) {
        // Shutting down: hand the stream to another worker at once, without spending an attempt.
        await job.moveToDelayed(Date.now() + 100, token);
        throw new DelayedError();
      }
      throw err;
    }

    if (running) await stopPeriod(running, endReason);
    await markEnded(redis, eventId);
    if (endReason === 'deleted') {
      await storage.deletePrefix(`assets/${assetId}`).catch(() => undefined);
      return;
    }
    await finish(endReason);
    return;

    // ---- helpers (closures over the job's state) ----

    async function ensureRecording(e: EventRow): Promise<string> {
      const current = e.asset_id ? await findAsset(db, e.asset_id) : undefined;
      if (current && current.source_key === liveSourceKey(e.id)) return current.id;
      const id = newId('as');
      await insertAsset(db, {
        id,
        accountId: e.account_id,
        title: `${e.title} (live recording)`,
        sourceKey: liveSourceKey(e.id),
        sourceBytes: 0,
        sourceName: undefined,
      });
      await updateAsset(db, id, { status: 'processing', stage: 'live', preview_revision: LIVE_REVISION });
      await updateEvent(db, e.id, { asset_id: id });
      return id;
    }

    async function startPeriod(publisher: PublisherRecord, index: number): Promise<RunningPeriod> {
      // The ingest publishes the stream under the event id, never its key.
      const pullUrl = signedPullUrl(publisher.ingestHost, publisher.ingestPort, eventId, playSecret);
      const report = await probeMedia(pullUrl, config.ffprobePath, ['-analyzeduration', '2000000']);
      const facts = judgeLiveSource(report);
      if (!facts.video) throw new Error('the stream has no video');
      if (!layout) {
        layout = { ladder: selectLadder(facts.video, DEFAULT_LADDER_POLICY), audio: Boolean(facts.audio) };
        await writeLayout(outDir!, layout);
        writer = newWriter(outDir!, layout);
      }
      const passthrough = config.live.passthrough && canPassThrough(facts.video, layout.ladder);
      const name = periodName(index);
      const args = buildLiveTranscodeArgs({
        input: pullUrl,
        outputDir: outDir!,
        period: name,
        ladder: layout.ladder,
        passthrough,
        // A stream that lost its audio on reconnect still fills the audio rendition's slot.
        audio: layout.audio && Boolean(facts.audio),
        segmentSeconds: config.live.segmentSeconds,
        x264Preset: config.x264Preset,
        audioBitrateKbps: 128,
      });
      for (const r of layout.ladder.rungs)
        await fsp.mkdir(path.join(outDir!, r.name, name), { recursive: true });
      // Dies with this worker: a SIGKILLed worker must not leave a live ffmpeg pulling and writing.
      const child = spawnFfmpeg(config.ffmpegPath, args);
      const pidFile = path.join(workDir, `${name}.pid`);
      if (child.pid) fs.writeFileSync(pidFile, String(child.pid));
      const period: RunningPeriod = {
        name,
        session: publisher.session,
        passthrough,
        child,
        exited: new Promise((resolve) =>
          child.once('close', () => {
            fs.rmSync(pidFile, { force: true });
            resolve();
          }),
        ),
        stderr: '',
        fps: undefined,
        speed: undefined,
        droppedFrames: 0,
        samples: [],
      };
      const reader = new ProgressReader();
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        for (const block of reader.push(chunk)) {
          if (block.fps !== undefined) period.fps = block.fps;
          if (block.droppedFrames !== undefined) period.droppedFrames = block.droppedFrames;
          if (block.outTimeSeconds !== undefined) {
            const wall = Date.now();
            period.samples.push({ wall, out: block.outTimeSeconds });
            while (period.samples.length > 2 && wall - period.samples[0]!.wall > 5000) period.samples.shift();
            period.speed = currentSpeed(period);
          }
        }
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => (period.stderr = (period.stderr + chunk).slice(-4000)));
      child.once('error', () => undefined);
      jobLog.info('live period started', { period: name, passthrough, audio: Boolean(facts.audio) });
      return period;
    }

    async function stopPeriod(period: RunningPeriod, why: string, hard = false): Promise<void> {
      if (period.child.exitCode === null && period.child.signalCode === null) {
        // SIGINT lets ffmpeg close the segment it is writing and list it; a hard stop does not wait.
        period.child.kill(hard ? 'SIGKILL' : 'SIGINT');
        const timer = setTimeout(() => period.child.kill('SIGKILL'), 3000);
        await period.exited;
        clearTimeout(timer);
      }
      jobLog.info('live period ended', { period: period.name, why });
    }

    async function finish(why: string): Promise<void> {
      const finalLayout = layout;
      const segments = writer ? await writer.publish(undefined, true) : new Map<string, MediaSegment[]>();
      const top = finalLayout?.ladder.rungs[0]?.name;
      const topSegments = top ? (segments.get(top) ?? []) : [];
      const endedAt = new Date().toISOString();
      await updateEvent(db, eventId, {
        live_status: 'ended',
        ...(event?.ended_at ? {} : { ended_at: endedAt }),
      });
      jobLog.info('live ended', { why, periods });
      if (event) {
        await emitWebhook(db, deps.queues, event.account_id, 'live.ended', eventId, {
          eventId,
          webinarId: event.webinar_id,
          endedAt,
          reason: why,
        });
      }
      if (!finalLayout || topSegments.length === 0) {
        await updateAsset(db, assetId, {
          status: 'failed',
          stage: 'failed',
          preview_revision: null,
          error: 'The live stream produced no video, so there is no recording.',
        });
        return;
      }
      // The replay: the same segments under VOD playlists (discontinuities kept) and a measured master.
      const renditions = await finalizeHls(outDir!, finalLayout.ladder, finalLayout.audio);
      const duration = topSegments.reduce((s, x) => s + x.duration, 0);
      // The poster is a nicety: a replay without one is still a replay.
      const posterFrame = await cutPoster(
        path.join(outDir!, top!),
        Math.min(duration * 0.1, 10),
        workDir,
        config.ffmpegPath,
      )
        .then(async (frame) => (frame ? (await writePoster(frame, outDir!), frame) : undefined))
        .catch((err: unknown) => {
          jobLog.warn('no poster for the replay', { err: String(err) });
          return undefined;
        });
      await fsp.rm(workDir, { recursive: true, force: true });
      await updateAsset(db, assetId, {
        status: 'ready',
        stage: 'done',
        progress: 100,
        error: null,
        revision: LIVE_REVISION,
        preview_revision: null,
        duration_seconds: duration,
        renditions_json: JSON.stringify(renditions),
        has_poster: posterFrame ? 1 : 0,
        ready_at: new Date().toISOString(),
      });
      jobLog.info('replay ready', { assetId, seconds: Math.round(duration) });
      await deps.queues.add('replay-images', { assetId }, `images-${assetId}`);
      if (event) {
        await emitWebhook(db, deps.queues, event.account_id, 'asset.ready', assetId, {
          assetId,
          eventId,
          durationSeconds: duration,
        });
      }
    }
  };

  function newWriter(dir: string, layout: LiveLayout): LivePlaylistWriter {
    return new LivePlaylistWriter(dir, layout, {
      windowSeconds: config.live.dvrSeconds,
      minSegments: 6,
      segmentSeconds: config.live.segmentSeconds,
    });
  }
}

class HandBack extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
