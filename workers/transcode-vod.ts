import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { judgeSource, type SourceFacts } from '../pipelines/source-facts.ts';
import { fitInside, stillsInterval } from '../pipelines/storyboard.ts';
import { buildVodTranscodeArgs, uploadInputArgs, type VodTranscodePlan } from '../pipelines/vod-args.ts';
import { DEFAULT_LADDER_POLICY, selectLadder, type Ladder } from '../pipelines/vod-ladder.ts';
import { countAttempt, findAsset, updateAsset } from '../src/db/assets.ts';
import { newId } from '../src/ids.ts';
import { MediaToolError, probeMedia, reapFfmpeg, runFfmpeg } from '../src/media/ffmpeg.ts';
import { finalizeHls, writePreviewMaster } from '../src/media/hls-output.ts';
import { cutPoster, writePoster, writeStoryboard, writeThumbnails } from '../src/media/images.ts';
import { assetPrefix, revisionPrefix } from '../src/media/layout.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { emitWebhook } from '../src/services/webhooks.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * Worker deaths (SIGKILL, the OOM killer, a host restart) one transcode survives. Each makes the job
 * "stalled" and BullMQ hands it to the next worker without spending an attempt: attempts are for
 * errors the job itself meets (ffmpeg failing), and a deploy that restarts workers three times must
 * not fail an upload. This bounds only a job that takes its worker down every time. It is also the
 * workers' `maxStalledCount` (workers/main.ts): past it BullMQ would fail the job without running
 * this processor, leaving the asset "processing" for ever; at it, the processor fails it in words.
 */
export const TRANSCODE_MAX_STALLS = 20;

/** Share of the progress bar given to the encode; images and publishing take the rest. */
const ENCODE_SHARE = 95;
const WORK_DIR = '.work';

export type TranscodeJob = Job<JobPayload<'transcode-vod'>>;

class AssetGoneError extends Error {}

/**
 * The media job: probe -> refuse what cannot stream -> choose the ladder -> one ffmpeg for every
 * rung (+ stills and poster) -> images -> publish (playlists last) -> flip the row to ready.
 */
export function createTranscodeVodProcessor(deps: WorkerDeps) {
  const { db, storage, config, log } = deps;

  return async function processTranscodeVod(
    job: TranscodeJob,
    token?: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const { assetId } = job.data;
    const asset = await findAsset(db, assetId);
    if (!asset) return; // deleted before we got to it
    if (asset.source_key.startsWith('live/')) return; // a live recording: its live job publishes it
    await countAttempt(db, assetId);
    const jobLog = log.child({ assetId, jobId: job.id, attempt: job.attemptsMade + 1 });
    if (job.stalledCounter >= TRANSCODE_MAX_STALLS) {
      const reason = `Processing was interrupted ${job.stalledCounter} times (the worker running it stopped each time, for example out of memory). Upload the file again; if it happens again, the file may need converting first.`;
      jobLog.warn('transcode failed', { reason, final: true, stalls: job.stalledCounter });
      await clearUnpublished(deps, assetId, asset.revision);
      await updateAsset(db, assetId, {
        status: 'failed',
        stage: 'failed',
        error: reason,
        preview_revision: null,
      });
      throw new UnrecoverableError(reason);
    }

    const sourcePath = storage.localDir(asset.source_key);
    if (!sourcePath) throw new UnrecoverableError('remote storage is not supported by the transcoder yet');
    const revision = newId('rev');
    const outDir = storage.localDir(revisionPrefix(assetId, revision))!;
    try {
      await clearUnpublished(deps, assetId, asset.revision);
      await setStage(deps, assetId, 'probing', 0, { status: 'processing', error: null });

      const facts = await probe(sourcePath, config.ffprobePath);
      const ladder = facts.video ? selectLadder(facts.video, DEFAULT_LADDER_POLICY) : undefined;
      await updateAsset(db, assetId, {
        source_json: JSON.stringify(facts),
        duration_seconds: facts.durationSeconds,
      });

      const workDir = path.join(outDir, WORK_DIR);
      await fs.mkdir(workDir, { recursive: true });
      const plan = transcodePlan(facts, ladder, sourcePath, outDir, workDir, config);
      jobLog.info('transcode start', {
        rungs: ladder?.rungs.map((r) => r.name) ?? [],
        audio: Boolean(facts.audio),
        duration: facts.durationSeconds,
      });

      await setStage(deps, assetId, 'transcoding', 0);
      let encodedSeconds = 0;
      let previewPublished = false;
      let lastReport = 0;
      // At most one preview check at a time; awaited before going on, so a late preview master or
      // preview_revision never lands after the final ones.
      let previewCheck: Promise<void> | undefined;
      await runFfmpeg(config.ffmpegPath, buildVodTranscodeArgs(plan), {
        pidFile: path.join(workDir, 'ffmpeg.pid'),
        ...(signal ? { signal } : {}),
        onProgress: (block) => {
          if (block.outTimeSeconds !== undefined) encodedSeconds = block.outTimeSeconds;
          const percent = Math.min(
            ENCODE_SHARE,
            Math.floor((encodedSeconds / facts.durationSeconds) * ENCODE_SHARE),
          );
          if (!previewPublished && !previewCheck) {
            previewCheck = writePreviewMaster(outDir, ladder, Boolean(facts.audio))
              .then(async (ready) => {
                if (!ready) return;
                previewPublished = true;
                await updateAsset(db, assetId, { preview_revision: revision });
                jobLog.info('playable while processing', { encodedSeconds });
              })
              .catch((err: unknown) => jobLog.warn('preview master failed', { err: String(err) }))
              .finally(() => (previewCheck = undefined));
          }
          if (Date.now() - lastReport >= 1000 || block.ended) {
            lastReport = Date.now();
            void setStage(deps, assetId, 'transcoding', percent, {}, job).catch(() => undefined);
          }
        },
      }).finally(() => previewCheck);
      // A file cut short (but with its index intact) decodes "successfully" up to the cut.
      if (encodedSeconds < facts.durationSeconds * 0.9 - 1) {
        throw new UnrecoverableError(
          `The recording ends early: only ${encodedSeconds.toFixed(1)} s of ${facts.durationSeconds.toFixed(1)} s could be decoded. The file looks truncated; upload it again.`,
        );
      }

      await setStage(deps, assetId, 'images', ENCODE_SHARE, {}, job);
      const images = await makeImages(plan, facts, ladder, outDir, workDir, config.ffmpegPath);

      await setStage(deps, assetId, 'publishing', 98, {}, job);
      const renditions = await finalizeHls(outDir, ladder, Boolean(facts.audio));
      await fs.rm(workDir, { recursive: true, force: true });
      const flipped = await updateAsset(db, assetId, {
        status: 'ready',
        stage: 'done',
        progress: 100,
        error: null,
        revision,
        preview_revision: null,
        renditions_json: JSON.stringify(renditions),
        has_poster: images.poster ? 1 : 0,
        has_storyboard: images.storyboard ? 1 : 0,
        ready_at: new Date().toISOString(),
      });
      if (!flipped) throw new AssetGoneError();
      await job.updateProgress({ stage: 'done', percent: 100 });
      if (asset.revision) await storage.deletePrefix(revisionPrefix(assetId, asset.revision));
      jobLog.info('asset ready', { renditions: renditions.map((r) => `${r.name}:${r.peakBitrate}`) });
      await emitWebhook(db, deps.queues, asset.account_id, 'asset.ready', assetId, {
        assetId,
        durationSeconds: facts.durationSeconds,
      });
    } catch (err) {
      await storage.deletePrefix(revisionPrefix(assetId, revision)).catch(() => undefined);
      if (err instanceof AssetGoneError || !(await findAsset(db, assetId))) {
        await storage.deletePrefix(assetPrefix(assetId)).catch(() => undefined);
        return;
      }
      if (signal?.aborted && token) {
        // Shutting down: hand the job back without spending an attempt.
        await updateAsset(db, assetId, { stage: 'queued', preview_revision: null });
        await job.moveToDelayed(Date.now() + 1000, token);
        throw new DelayedError();
      }
      const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const reason = err instanceof Error ? err.message : String(err);
      jobLog.warn('transcode failed', { reason, final });
      await updateAsset(db, assetId, {
        preview_revision: null,
        ...(final
          ? { status: 'failed', stage: 'failed', error: reason }
          : { stage: 'retrying', error: reason }),
      });
      throw err;
    }
  };
}

async function probe(sourcePath: string, ffprobePath: string): Promise<SourceFacts> {
  let report;
  try {
    // Only container demuxers, only the upload itself: a playlist posing as a recording reads nothing else.
    report = await probeMedia(sourcePath, ffprobePath, uploadInputArgs());
  } catch (err) {
    if (err instanceof MediaToolError) {
      throw new UnrecoverableError(`The file is not a recording onair can read (${err.message}).`);
    }
    throw err;
  }
  const verdict = judgeSource(report);
  if (!verdict.ok) throw new UnrecoverableError(verdict.reason);
  return verdict.facts;
}

function transcodePlan(
  facts: SourceFacts,
  ladder: Ladder | undefined,
  input: string,
  outDir: string,
  workDir: string,
  config: WorkerDeps['config'],
): VodTranscodePlan {
  const top = ladder?.rungs[0];
  const stillsBox = top ? fitInside(top.width, top.height, 320) : undefined;
  return {
    input,
    outputDir: outDir,
    ...(ladder ? { ladder } : {}),
    audio: Boolean(facts.audio),
    segmentSeconds: config.segmentSeconds,
    // At most 2 s between keyframes (seeking), and segments hold whole GOPs.
    gopSeconds: config.segmentSeconds % 2 === 0 ? 2 : config.segmentSeconds,
    x264Preset: config.x264Preset,
    audioBitrateKbps: 128,
    ...(top && stillsBox
      ? {
          stills: {
            everySeconds: stillsInterval(facts.durationSeconds),
            width: stillsBox.width,
            height: stillsBox.height,
            pattern: path.join(workDir, 'still_%05d.png'),
          },
        }
      : {}),
  };
}

async function makeImages(
  plan: VodTranscodePlan,
  facts: SourceFacts,
  ladder: Ladder | undefined,
  outDir: string,
  workDir: string,
  ffmpegPath: string,
): Promise<{ poster: boolean; storyboard: boolean }> {
  const top = ladder?.rungs[0];
  if (!plan.stills || !top) return { poster: false, storyboard: false };
  // Poster: a frame a little into the talk (past fades and title cards), from the top rung.
  const posterFrame = await cutPoster(
    path.join(outDir, top.name),
    Math.min(facts.durationSeconds * 0.1, 10),
    workDir,
    ffmpegPath,
  );
  const files = await fs.readdir(workDir);
  const stills = files
    .filter((f) => f.startsWith('still_'))
    .sort()
    .map((f) => path.join(workDir, f));
  const poster = posterFrame !== undefined;
  if (posterFrame) await writePoster(posterFrame, outDir);
  await writeThumbnails(stills, outDir, 5);
  const tile = fitInside(plan.stills.width, plan.stills.height, 160);
  const sheets = await writeStoryboard({
    stills,
    layout: { tileWidth: tile.width, tileHeight: tile.height, columns: 10, rows: 10 },
    everySeconds: plan.stills.everySeconds,
    durationSeconds: facts.durationSeconds,
    outDir,
  });
  return { poster, storyboard: sheets > 0 };
}

/** Removes what earlier attempts left (stopping any orphaned ffmpeg first), keeping the published revision. */
async function clearUnpublished(deps: WorkerDeps, assetId: string, keep: string | null): Promise<void> {
  const dir = deps.storage.localDir(assetPrefix(assetId));
  if (!dir) return;
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  for (const name of entries) {
    if (name === keep) continue;
    reapFfmpeg(path.join(dir, name, WORK_DIR, 'ffmpeg.pid'));
    await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
}

async function setStage(
  deps: WorkerDeps,
  assetId: string,
  stage: string,
  percent: number,
  extra: Parameters<typeof updateAsset>[2] = {},
  job?: TranscodeJob,
): Promise<void> {
  await updateAsset(deps.db, assetId, { stage, progress: percent, ...extra });
  await job?.updateProgress({ stage, percent });
}
