import fs from 'node:fs/promises';
import path from 'node:path';
import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { parseMediaPlaylist, writeMediaPlaylist, type MediaPlaylist } from '../pipelines/hls-playlist.ts';
import { publishablePlaylist } from '../pipelines/hls-publisher.ts';
import { judgeSource, type SourceFacts } from '../pipelines/source-facts.ts';
import { fitInside, stillsInterval } from '../pipelines/storyboard.ts';
import {
  AUDIO_RENDITION,
  buildVodTranscodeArgs,
  uploadInputArgs,
  type VodTranscodePlan,
} from '../pipelines/vod-args.ts';
import { DEFAULT_LADDER_POLICY, selectLadder, type Ladder } from '../pipelines/vod-ladder.ts';
import { countAttempt, findAsset, updateAsset } from '../src/db/assets.ts';
import { newId } from '../src/ids.ts';
import { MediaToolError, probeMedia, runFfmpeg } from '../src/media/ffmpeg.ts';
import { finalizeHls, MASTER_PLAYLIST, previewMasterText } from '../src/media/hls-output.ts';
import type { SinkTarget } from '../src/media/hls-sink.ts';
import { cutPoster, writePoster, writeStoryboard, writeThumbnails } from '../src/media/images.ts';
import { assetPrefix, revisionPrefix } from '../src/media/layout.ts';
import type { Logger } from '../src/log.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import { emitWebhook } from '../src/services/webhooks.ts';
import type { LocalCopy, Storage } from '../src/storage/storage.ts';
import { LOCK_LOST, type WorkerDeps } from './deps.ts';

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
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/**
 * How long ffmpeg's last requests may take to be read and stored after it exits (a ceiling: it is
 * over as soon as every final playlist and its files are in; S3 under load once took more than 10 s).
 */
const SETTLE_MS = 30_000;

export type TranscodeJob = Job<JobPayload<'transcode-vod'>>;

class AssetGoneError extends Error {}

/**
 * The media job: probe -> refuse what cannot stream -> choose the ladder -> one ffmpeg for every
 * rung (+ stills) whose HLS output streams into storage through the segment sink, playable while it
 * grows -> poster and images -> publish (playlists, master last) -> flip the row to ready.
 *
 * Each attempt works under a revision of its own (`assets/<id>/<revision>/`) and a scratch folder
 * of its own on local disk; the row names the published revision, so a retry never shows half an
 * asset. If this worker loses the job's lock (`LOCK_LOST`), its ffmpeg is killed and it touches
 * neither the row nor storage: the job's new owner clears what this attempt left.
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
      await updateAsset(db, assetId, {
        status: 'failed',
        stage: 'failed',
        error: reason,
        preview_revision: null,
      });
      await clearUnpublished(storage, assetId, [asset.revision]);
      throw new UnrecoverableError(reason);
    }

    const revision = newId('rev');
    const prefix = revisionPrefix(assetId, revision);
    const scratch = path.join(deps.scratchDir, `${assetId}-${revision}`);
    let source: LocalCopy | undefined;
    try {
      await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
      // The row first stops naming an earlier attempt's preview, then that attempt's files go.
      await setStage(deps, assetId, 'probing', 0, {
        status: 'processing',
        error: null,
        preview_revision: null,
      });
      await clearUnpublished(storage, assetId, [asset.revision, revision]);

      source = await copySource(storage, asset.source_key, scratch);
      const facts = await probe(source.path, config.ffprobePath);
      const ladder = facts.video ? selectLadder(facts.video, DEFAULT_LADDER_POLICY) : undefined;
      await updateAsset(db, assetId, {
        source_json: JSON.stringify(facts),
        duration_seconds: facts.durationSeconds,
      });

      let encodedSeconds = 0;
      const output = new EncodeOutput({
        storage,
        prefix,
        ladder,
        audio: Boolean(facts.audio),
        log: jobLog,
        aborted: () => signal?.aborted ?? false,
        // Playable while processing: players start at the beginning while the rest encodes.
        onPreview: async () => {
          await updateAsset(db, assetId, { preview_revision: revision });
          jobLog.info('playable while processing', { encodedSeconds });
        },
      });
      const session = deps.sink.open(output.target);
      const plan = transcodePlan(facts, ladder, source.path, session.baseUrl, scratch, config);
      jobLog.info('transcode start', {
        rungs: ladder?.rungs.map((r) => r.name) ?? [],
        audio: Boolean(facts.audio),
        duration: facts.durationSeconds,
      });

      await setStage(deps, assetId, 'transcoding', 0);
      let lastReport = 0;
      try {
        await runFfmpeg(config.ffmpegPath, buildVodTranscodeArgs(plan), {
          ...(signal ? { signal } : {}),
          onProgress: (block) => {
            if (block.outTimeSeconds !== undefined) encodedSeconds = block.outTimeSeconds;
            const percent = Math.min(
              ENCODE_SHARE,
              Math.floor((encodedSeconds / facts.durationSeconds) * ENCODE_SHARE),
            );
            if (Date.now() - lastReport >= 1000 || block.ended) {
              lastReport = Date.now();
              void setStage(deps, assetId, 'transcoding', percent, {}, job).catch((err: unknown) =>
                jobLog.warn('progress not recorded', { err: String(err) }),
              );
            }
          },
        });
        // ffmpeg does not wait for its last PUTs to be answered: let them land before the session ends.
        await output.settle(() => session.failure(), SETTLE_MS);
      } finally {
        // Whatever the sink still stores or publishes (a late preview master, preview_revision)
        // lands now, never after the final playlists, nor after a failed attempt's clean-up.
        await session.idle();
        session.close();
      }
      const failure = session.failure();
      if (failure) throw new Error(`Storing the encoded video failed (${failure.message}).`);
      // A file cut short (but with its index intact) decodes "successfully" up to the cut.
      if (encodedSeconds < facts.durationSeconds * 0.9 - 1) {
        throw new UnrecoverableError(
          `The recording ends early: only ${encodedSeconds.toFixed(1)} s of ${facts.durationSeconds.toFixed(1)} s could be decoded. The file looks truncated; upload it again.`,
        );
      }
      const playlists = output.completePlaylists((file) => session.isStored(file));
      checkLockHeld(signal);

      await setStage(deps, assetId, 'images', ENCODE_SHARE, {}, job);
      const images = await makeImages(deps, plan, facts, ladder, prefix, playlists, scratch);
      checkLockHeld(signal);

      await setStage(deps, assetId, 'publishing', 98, {}, job);
      const renditions = await finalizeHls(
        storage,
        prefix,
        ladder,
        Boolean(facts.audio),
        playlists,
        output.sizes,
      );
      checkLockHeld(signal);
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
      if (signal?.aborted && signal.reason === LOCK_LOST) {
        // Another worker may own the job now: its row and its storage are the new owner's to clean.
        jobLog.warn('transcode stopped: the job lock was lost', { revision });
        throw err;
      }
      await deleteQuietly(storage, prefix, jobLog);
      if (err instanceof AssetGoneError || !(await findAsset(db, assetId))) {
        await deleteQuietly(storage, assetPrefix(assetId), jobLog);
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
    } finally {
      await source?.release();
      await fs.rm(scratch, { recursive: true, force: true });
    }
  };
}

/**
 * Stops an attempt whose job was taken away (lock lost) between steps. A shutdown once the encode
 * is done lets the attempt finish: publishing takes seconds, and the worker waits for it.
 */
function checkLockHeld(signal: AbortSignal | undefined): void {
  if (signal?.aborted && signal.reason === LOCK_LOST)
    throw new Error('transcode stopped: the job lock was lost');
}

/** A failed attempt's output: removed now, or by the next attempt's `clearUnpublished` if this fails. */
async function deleteQuietly(storage: Storage, prefix: string, log: Logger): Promise<void> {
  try {
    await storage.deletePrefix(prefix);
  } catch (err) {
    log.warn('could not remove an unpublished revision; the next attempt will', {
      prefix,
      err: String(err),
    });
  }
}

/** The upload as a local file for ffprobe and ffmpeg (downloaded into `scratch` from remote storage). */
async function copySource(storage: Storage, key: string, scratch: string): Promise<LocalCopy> {
  try {
    return await storage.localCopy(key, scratch);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UnrecoverableError('The uploaded file is no longer in storage. Upload it again.');
    }
    throw err;
  }
}

/**
 * What one encode's HLS output turns into while ffmpeg runs: each playlist ffmpeg sends is cut to
 * what is stored (`publishablePlaylist`) and stored as the rendition's EVENT playlist when it grew,
 * so players can start while encoding; once every rendition has one, the preview master follows.
 * It keeps what the final publish needs: each rendition's newest playlist and every file's size.
 */
class EncodeOutput {
  /** Sizes of stored media files, keyed `<rendition>/<uri>` (what `finalizeHls` takes). */
  readonly sizes = new Map<string, number>();
  /** The newest playlist ffmpeg sent per rendition (the complete one once ffmpeg has exited). */
  readonly #latest = new Map<string, MediaPlaylist>();
  /** The text last stored per rendition and how many segments it lists. */
  readonly #published = new Map<string, { text: string; segments: number }>();
  readonly #heads = new Map<string, Buffer>();
  /** Per rendition, the publish in progress: a rendition's playlists are stored in the order they came. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #names: string[];
  #preview: 'waiting' | 'storing' | 'done' = 'waiting';

  constructor(
    private readonly o: {
      storage: Storage;
      prefix: string;
      ladder: Ladder | undefined;
      audio: boolean;
      log: Logger;
      /** True once the job is stopped: nothing more is published. */
      aborted: () => boolean;
      onPreview: () => Promise<void>;
    },
  ) {
    this.#names = [...(o.ladder?.rungs.map((r) => r.name) ?? []), ...(o.audio ? [AUDIO_RENDITION] : [])];
  }

  get target(): SinkTarget {
    return {
      prefix: this.o.prefix,
      onStored: (file) => {
        this.sizes.set(file.path, file.bytes);
        const rendition = file.path.slice(0, file.path.indexOf('/'));
        if (file.head && !this.#heads.has(rendition)) this.#heads.set(rendition, file.head);
      },
      onPlaylist: (file, text, isStored) => {
        const rendition = file.slice(0, file.indexOf('/'));
        if (!this.#names.includes(rendition) || file !== `${rendition}/index.m3u8`) {
          return Promise.reject(new Error(`ffmpeg wrote an unexpected playlist: ${file}`));
        }
        const playlist = parseMediaPlaylist(text);
        const run = (this.#queues.get(rendition) ?? Promise.resolve()).then(() =>
          this.#publish(rendition, playlist, (uri) => isStored(`${rendition}/${uri}`)),
        );
        // A failure is the sink's to record (it gets `run`); the queue itself goes on.
        this.#queues.set(
          rendition,
          run.then(
            () => undefined,
            () => undefined,
          ),
        );
        return run;
      },
    };
  }

  async #publish(
    rendition: string,
    playlist: MediaPlaylist,
    isStored: (uri: string) => boolean,
  ): Promise<void> {
    const newest = this.#latest.get(rendition);
    if (!newest || playlist.segments.length >= newest.segments.length) this.#latest.set(rendition, playlist);
    if (this.o.aborted()) return;
    const ready = publishablePlaylist(playlist, isStored);
    if (!ready) return;
    const text = writeMediaPlaylist(ready);
    const last = this.#published.get(rendition);
    // Only a playlist that grew (or gained its end): an older one arriving late never replaces a newer.
    if (last && (ready.segments.length < last.segments || text === last.text)) return;
    await this.o.storage.putBytes(`${this.o.prefix}/${rendition}/index.m3u8`, text, {
      contentType: PLAYLIST_TYPE,
    });
    this.#published.set(rendition, { text, segments: ready.segments.length });
    await this.#storePreview();
  }

  /** The preview master, once every rendition's playlist is stored (a master never names a missing one). */
  async #storePreview(): Promise<void> {
    if (this.#preview !== 'waiting' || !this.#names.every((n) => this.#published.has(n))) return;
    this.#preview = 'storing';
    try {
      const text = previewMasterText(this.o.ladder, this.o.audio, this.#heads, 0);
      if (!text || this.o.aborted()) {
        this.#preview = 'waiting';
        return;
      }
      await this.o.storage.putBytes(`${this.o.prefix}/${MASTER_PLAYLIST}`, text, {
        contentType: PLAYLIST_TYPE,
      });
      if (this.o.aborted()) return;
      await this.o.onPreview();
      this.#preview = 'done';
    } catch (err) {
      // Not worth failing the encode for: the asset is then playable only once ready. The next
      // playlist tries again.
      this.o.log.warn('preview master failed', { err: String(err) });
      this.#preview = 'waiting';
    }
  }

  /**
   * ffmpeg exits without waiting for the answers to its last PUTs, so the sink may not even have
   * read them yet: waits until every rendition's final playlist (EXT-X-ENDLIST) and every file it
   * lists have arrived, the sink has failed, or `timeoutMs` has passed.
   */
  async settle(failure: () => Error | undefined, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#complete() && !failure() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #complete(): boolean {
    return this.#names.every((name) => {
      const playlist = this.#latest.get(name);
      return (
        playlist?.ended === true &&
        publishablePlaylist(playlist, (uri) => this.sizes.has(`${name}/${uri}`)) === playlist
      );
    });
  }

  /**
   * After ffmpeg has exited and the sink is idle: every rendition's complete playlist, each file of
   * which is stored. Throws when one is missing or incomplete.
   */
  completePlaylists(isStored: (path: string) => boolean): Map<string, MediaPlaylist> {
    const complete = new Map<string, MediaPlaylist>();
    for (const name of this.#names) {
      const playlist = this.#latest.get(name);
      if (!playlist?.ended) {
        const seen = playlist
          ? `its last playlist lists ${playlist.segments.length} segment(s) and has no end`
          : 'no playlist of it arrived';
        throw new Error(`the encoder did not finish rendition ${name} (${seen})`);
      }
      const stored = (uri: string) => isStored(`${name}/${uri}`);
      if (publishablePlaylist(playlist, stored) !== playlist) {
        throw new Error(`rendition ${name} is incomplete in storage`);
      }
      complete.set(name, playlist);
    }
    return complete;
  }
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
  outputUrl: string,
  scratch: string,
  config: WorkerDeps['config'],
): VodTranscodePlan {
  const top = ladder?.rungs[0];
  const stillsBox = top ? fitInside(top.width, top.height, 320) : undefined;
  return {
    input,
    outputUrl,
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
            // Stills stay on local disk (the images are made from them), never through the sink.
            pattern: path.join(scratch, 'still_%05d.png'),
          },
        }
      : {}),
  };
}

/**
 * Poster, thumbnails and storyboard, stored under the revision before its master is. The poster is
 * cut from the top rung's stored segments (one segment downloaded and decoded), a little into the
 * talk (past fades and title cards): it shows exactly what viewers see at the top rung's size, and
 * the live job cuts its replay's poster the same way.
 */
async function makeImages(
  deps: WorkerDeps,
  plan: VodTranscodePlan,
  facts: SourceFacts,
  ladder: Ladder | undefined,
  prefix: string,
  playlists: ReadonlyMap<string, MediaPlaylist>,
  scratch: string,
): Promise<{ poster: boolean; storyboard: boolean }> {
  const { storage } = deps;
  const top = ladder?.rungs[0];
  const topPlaylist = top && playlists.get(top.name);
  if (!plan.stills || !top || !topPlaylist) return { poster: false, storyboard: false };
  const posterFrame = await cutPoster(
    storage,
    `${prefix}/${top.name}`,
    topPlaylist,
    Math.min(facts.durationSeconds * 0.1, 10),
    scratch,
    deps.config.ffmpegPath,
  );
  const stills = (await fs.readdir(scratch))
    .filter((f) => f.startsWith('still_'))
    .sort()
    .map((f) => path.join(scratch, f));
  if (posterFrame) await writePoster(storage, prefix, posterFrame);
  await writeThumbnails(storage, prefix, stills, 5);
  const tile = fitInside(plan.stills.width, plan.stills.height, 160);
  const sheets = await writeStoryboard({
    storage,
    prefix,
    stills,
    layout: { tileWidth: tile.width, tileHeight: tile.height, columns: 10, rows: 10 },
    everySeconds: plan.stills.everySeconds,
    durationSeconds: facts.durationSeconds,
  });
  return { poster: posterFrame !== undefined, storyboard: sheets > 0 };
}

/**
 * Removes every revision of the asset in storage but those in `keep` (the published one, this
 * attempt's): what earlier attempts left, whichever worker or machine ran them. Their ffmpeg is not
 * ours to stop: it died with its worker, or was stopped when that worker lost the job's lock.
 */
async function clearUnpublished(
  storage: Storage,
  assetId: string,
  keep: readonly (string | null)[],
): Promise<void> {
  const root = `${assetPrefix(assetId)}/`;
  const revisions = new Set(
    (await storage.list(assetPrefix(assetId))).map((key) => key.slice(root.length).split('/')[0]!),
  );
  for (const revision of revisions) {
    if (!keep.includes(revision)) await storage.deletePrefix(revisionPrefix(assetId, revision));
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
