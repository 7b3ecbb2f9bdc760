import crypto from 'node:crypto';
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ProgressReader, type ProgressBlock } from '../../pipelines/ffmpeg-progress.ts';
import { keyframeAdvice, keyframesAllowCopy } from '../../pipelines/keyframe-cadence.ts';
import { FIRST_PIPE_FD, buildLiveTranscodeArgs, canPassThrough } from '../../pipelines/live-args.ts';
import { judgeLiveSource } from '../../pipelines/source-facts.ts';
import { DEFAULT_LADDER_POLICY, selectLadder } from '../../pipelines/vod-ladder.ts';
import type { Config } from '../config.ts';
import { lastErrorLine, probeMedia, spawnFfmpeg } from '../media/ffmpeg.ts';
import type { SinkSession, StoredMediaFile } from '../media/hls-sink.ts';
import {
  LiveOutput,
  liveRenditions,
  type LiveOutputOptions,
  type LiveRecording,
} from '../media/live-output.ts';
import { LivePeriodPipes } from '../media/live-packaging.ts';
import { FALLING_BEHIND_SPEED, type PublisherRecord } from './live-state.ts';
import { redactStreamKeys } from './rtmp-ingest.ts';

/**
 * One live event's stream, as a session object (the shape of PeerTube's MuxingSession): it follows
 * the presenter's encoder (one period, with its own ffmpeg, per connection), publishes the live
 * playlists through `LiveOutput`, and tells what happens as typed events. It knows nothing of
 * database rows or webhooks: the live job (`workers/live-stream.ts`) listens and records.
 */

/** Why a live stream ended. */
export type LiveEndReason = 'presenter-stopped' | 'encoder-gone' | 'organiser-ended' | 'deleted';

/** What the session reports every few seconds (the live job writes it to Redis for the dashboard). */
export interface LiveStats {
  readonly inputBitrate: number | null;
  readonly fps: number | null;
  /** Media seconds encoded per wall second over the last few seconds: below 1.0 is falling behind. */
  readonly speed: number | null;
  readonly droppedFrames: number;
  /** Seconds of the stream lost between periods (reconnects, takeovers). */
  readonly droppedSeconds: number;
  readonly periods: number;
  readonly passthrough: boolean;
  readonly renditions: readonly string[];
  /** Seconds between the encoder's keyframes (null: not known yet), and what to tell the presenter. */
  readonly keyframeSeconds: number | null;
  readonly keyframeAdvice: string | null;
}

/** The session's events and what each carries. */
export interface LiveSessionEvents {
  /** An ffmpeg began pulling the encoder's stream into a new period. */
  'period-started': { period: string; passthrough: boolean; audio: boolean };
  /** A media file (segment or init section) of the current period is stored. */
  segment: StoredMediaFile;
  /** A live playlist (`master.m3u8`, `<rendition>/index.m3u8`) was published to Redis and storage. */
  playlist: { file: string; text: string };
  /** Viewers can see the period: its first segment is in the published playlists. */
  'on-air': { period: string };
  /** The period's ffmpeg stopped: the encoder left or reconnected, or ffmpeg failed on its own. */
  'period-ended': { period: string; why: string };
  /** The stream is not keeping up: the encoder is gone (within the grace period), or ffmpeg is too slow. */
  stalled: { why: 'encoder-dropped'; graceSeconds: number } | { why: 'falling-behind'; speed: number };
  health: LiveStats;
  ended: { reason: LiveEndReason };
}

export type LiveSessionEvent = keyof LiveSessionEvents;
type Listener<K extends LiveSessionEvent> = (data: LiveSessionEvents[K]) => void | Promise<void>;

/** What the session watches, outside itself: the ingest's publisher slot and the event's row. */
export interface LiveWatch {
  publisher(): Promise<PublisherRecord | undefined>;
  /** The presenter pressed "Stop streaming" (rather than losing the connection). */
  presenterStopped(): Promise<boolean>;
  /** Why the event is over regardless of the encoder, or undefined while it goes on. */
  over(): Promise<'deleted' | 'organiser-ended' | undefined>;
}

export interface LiveSessionOptions extends Omit<LiveOutputOptions, 'window' | 'lowLatency'> {
  readonly eventId: string;
  /** LL-HLS for this event (the global setting and the event's own). */
  readonly lowLatency: boolean;
  readonly watch: LiveWatch;
  /** The URL ffmpeg pulls the encoder's stream from (signed at each use). */
  pullUrl(publisher: PublisherRecord): string;
  readonly config: Pick<Config, 'ffmpegPath' | 'ffprobePath' | 'x264Preset' | 'live'>;
  /** The stream ended before this run (its replay is to be published again): no live window. */
  readonly ended?: boolean;
  /** How often the publisher slot is looked at. */
  readonly tickMs?: number;
}

/** `run()` stopped because the job's signal was aborted; `abandoned` when it touched nothing after. */
export class LiveInterrupted extends Error {
  constructor(
    readonly reason: unknown,
    readonly abandoned: boolean,
  ) {
    super(`live stream interrupted (${String(reason)})`);
  }
}

/** What the runner needs to decide its next step: a snapshot, so the decision is pure. */
export interface LiveView {
  readonly over: 'deleted' | 'organiser-ended' | undefined;
  /** The publisher's session id (a reconnect is a new one). */
  readonly publisher: string | undefined;
  /**
   * The period running now: the publisher it pulls, whether its ffmpeg has exited, and whether it
   * copies a top rung whose keyframes no longer fit the segment target (the encoder changed).
   */
  readonly period:
    { readonly publisher: string; readonly exited: boolean; readonly copyBroken?: boolean } | undefined;
  readonly presenterStopped: boolean;
  readonly secondsWithoutPublisher: number;
  readonly graceSeconds: number;
  /** False just after a failed start (one retry a second). */
  readonly mayStart: boolean;
}

export type LiveStep =
  | { readonly kind: 'end'; readonly reason: LiveEndReason }
  | { readonly kind: 'stop-period'; readonly why: string }
  | { readonly kind: 'start-period' }
  | { readonly kind: 'wait'; readonly encoderGone: boolean };

/** The session's one decision, pure: what to do given what it sees. */
export function nextLiveStep(v: LiveView): LiveStep {
  if (v.over) return { kind: 'end', reason: v.over };
  if (v.period?.exited) return { kind: 'stop-period', why: 'ffmpeg exited' };
  if (v.period && v.period.publisher !== v.publisher) {
    return { kind: 'stop-period', why: v.publisher ? 'the encoder reconnected' : 'the encoder left' };
  }
  // Re-encoding from the next keyframe costs a second of picture; segments of 8 s would cost more.
  if (v.period?.copyBroken) return { kind: 'stop-period', why: "the encoder's keyframes changed" };
  if (v.period) return { kind: 'wait', encoderGone: false };
  if (v.publisher) return v.mayStart ? { kind: 'start-period' } : { kind: 'wait', encoderGone: false };
  if (v.presenterStopped) return { kind: 'end', reason: 'presenter-stopped' };
  if (v.secondsWithoutPublisher > v.graceSeconds) return { kind: 'end', reason: 'encoder-gone' };
  return { kind: 'wait', encoderGone: true };
}

/** The ingest reports a stream's keyframe cadence within this long of its second keyframe (plus slack). */
const CADENCE_REPORT_SECONDS = 1.5;
const EVENT_CHECK_MS = 1000;
const HEALTH_MS = 2000;
const RETRY_START_MS = 1000;
/** SIGINT lets ffmpeg close the segment it is writing and send the last playlists; then it is killed. */
const FINISH_TIMEOUT_MS = 3000;

/** One period: an ffmpeg pulling the encoder's stream, its renditions cut and stored from its pipes. */
class PeriodRun {
  stderr = '';
  fps: number | undefined;
  speed: number | undefined;
  droppedFrames = 0;
  /** (wall ms, media seconds) samples of the last few seconds, for the encoder's current speed. */
  readonly #samples: { wall: number; out: number }[] = [];
  readonly exited: Promise<void>;
  #exited = false;

  constructor(
    readonly name: string,
    readonly publisher: string,
    readonly passthrough: boolean,
    private readonly child: ChildProcessByStdio<null, Readable, Readable>,
    private readonly sink: SinkSession,
    onExit: () => void,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('close', () => {
        this.#exited = true;
        resolve();
        onExit();
      }),
    );
    // A spawn failure also closes the child; its error is in stderr's place.
    child.once('error', (err) => (this.stderr += `\n${err.message}`));
    const reader = new ProgressReader();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      for (const block of reader.push(chunk)) this.#progress(block);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
  }

  get hasExited(): boolean {
    return this.#exited;
  }

  #progress(block: ProgressBlock): void {
    if (block.fps !== undefined) this.fps = block.fps;
    if (block.droppedFrames !== undefined) this.droppedFrames = block.droppedFrames;
    if (block.outTimeSeconds === undefined) return;
    const wall = Date.now();
    this.#samples.push({ wall, out: block.outTimeSeconds });
    while (this.#samples.length > 2 && wall - this.#samples[0]!.wall > 5000) this.#samples.shift();
    const first = this.#samples[0]!;
    const last = this.#samples.at(-1)!;
    // ffmpeg's own speed figure is since its start; this is the last ~5 s.
    this.speed =
      last.wall - first.wall < 2000 ? undefined : (last.out - first.out) / ((last.wall - first.wall) / 1000);
  }

  /** At once: SIGKILL, and the sink session refuses whatever ffmpeg still sends. */
  abandon(): void {
    if (!this.#exited) this.child.kill('SIGKILL');
    this.sink.close();
  }

  /**
   * `finish`: SIGINT, so ffmpeg closes its segment and sends the last playlists, then waits for the
   * sink to store and publish them. `kill`: SIGKILL, and nothing more is taken from it.
   */
  async stop(how: 'finish' | 'kill'): Promise<void> {
    if (!this.#exited) {
      this.child.kill(how === 'finish' ? 'SIGINT' : 'SIGKILL');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), FINISH_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    if (how === 'finish') await this.sink.idle();
    this.sink.close();
  }
}

/**
 * The live stream of one event, from the encoder's first connection to the end. Create it with
 * `open` (which picks up what an earlier worker recorded), listen with `on`, then `run()` until it
 * ends and `finish()` for the recording. Listeners run one at a time, in the order things happened;
 * `run()` waits for them and fails with the first error one of them throws.
 */
export class LiveSession {
  readonly #listeners = new Map<LiveSessionEvent, Listener<never>[]>();
  #effects: Promise<void> = Promise.resolve();
  #failure: Error | undefined;
  #silent = false;
  #period: PeriodRun | undefined;
  #lastPublisherAt = Date.now();
  #nextEventCheck = 0;
  #over: 'deleted' | 'organiser-ended' | undefined;
  #nextHealth = 0;
  #slowSamples = 0;
  #retryAt = 0;
  #encoderGoneReported = false;
  #wake: (() => void) | undefined;

  private constructor(
    private readonly opts: LiveSessionOptions,
    readonly output: LiveOutput,
  ) {
    output.hooks = {
      segment: (file) => this.#emit('segment', file),
      published: (file, text) => this.#emit('playlist', { file, text }),
      onAir: (period) => this.#emit('on-air', { period }),
    };
  }

  static async open(opts: LiveSessionOptions): Promise<LiveSession> {
    const output = await LiveOutput.resume(
      {
        storage: opts.storage,
        redis: opts.redis,
        assetId: opts.assetId,
        log: opts.log,
        // This run's fencing token: a worker that lost the lock can no longer write over this one.
        owner: crypto.randomUUID(),
        window: {
          windowSeconds: opts.config.live.dvrSeconds,
          minSegments: 6,
          segmentSeconds: opts.config.live.segmentSeconds,
        },
        lowLatency: opts.lowLatency ? { partSeconds: opts.config.live.partSeconds } : undefined,
      },
      { ended: opts.ended ?? false },
    );
    return new LiveSession(opts, output);
  }

  /** Whether a stream was recorded before this run: a takeover (or a replay to publish again). */
  get resumed(): boolean {
    return this.output.resumed;
  }

  on<K extends LiveSessionEvent>(event: K, listener: Listener<K>): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    return this;
  }

  #emit<K extends LiveSessionEvent>(event: K, data: LiveSessionEvents[K]): void {
    const listeners = (this.#listeners.get(event) ?? []) as Listener<K>[];
    if (this.#silent || listeners.length === 0) return;
    this.#effects = this.#effects.then(async () => {
      if (this.#failure !== undefined || this.#silent) return;
      try {
        for (const listener of listeners) await listener(data);
      } catch (err) {
        this.#failure = err instanceof Error ? err : new Error(String(err));
        this.#wake?.();
      }
    });
  }

  /** Resolves once every listener called so far has finished; throws the first listener error. */
  async #settled(): Promise<void> {
    await this.#effects;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Follows the encoder until the stream ends, and returns why. Aborting `signal` stops the current
   * period and rejects with `LiveInterrupted`: with `abandon(reason)` true (this worker lost the
   * job's lock) ffmpeg is killed and nothing is written any more, the new owner carries on; otherwise
   * (shutting down) ffmpeg finishes its segment, so the next worker resumes from a clean period end.
   */
  async run(
    opts: { signal?: AbortSignal; abandon?: (reason: unknown) => boolean } = {},
  ): Promise<LiveEndReason> {
    const { signal } = opts;
    const onAbort = () => {
      // At once, not at the next tick: no write may start after the lock is known to be lost.
      if (opts.abandon?.(signal?.reason)) this.#abandon();
      this.#wake?.();
    };
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (signal?.aborted) await this.#interrupt(signal.reason, opts.abandon?.(signal.reason) ?? false);
        if (this.#failure !== undefined) {
          await this.#stopPeriod('the job failed', 'finish');
          await this.#settled();
        }
        const now = Date.now();
        const publisher = await this.opts.watch.publisher();
        if (publisher) this.#lastPublisherAt = now;
        const step = nextLiveStep(await this.#view(now, publisher));
        switch (step.kind) {
          case 'end':
            await this.#stopPeriod(step.reason, 'finish');
            this.#emit('ended', { reason: step.reason });
            await this.#settled();
            return step.reason;
          case 'stop-period':
            await this.#stopPeriod(step.why, 'finish');
            // An ffmpeg that failed on its own is not restarted in a tight loop.
            if (step.why === 'ffmpeg exited') this.#retryAt = Date.now() + RETRY_START_MS;
            continue;
          case 'start-period':
            await this.#startPeriod(publisher!);
            break;
          case 'wait':
            if (step.encoderGone && !this.#encoderGoneReported) {
              this.#encoderGoneReported = true;
              this.#emit('stalled', {
                why: 'encoder-dropped',
                graceSeconds: this.opts.config.live.reconnectGraceSeconds,
              });
            }
        }
        if (now >= this.#nextHealth) {
          this.#nextHealth = now + HEALTH_MS;
          this.#health(publisher);
        }
        await this.#sleep(this.opts.tickMs ?? 200);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * After `run()`: publishes the live playlists in full with their end and returns the recording
   * (undefined when the stream never produced anything).
   */
  async finish(): Promise<LiveRecording | undefined> {
    const recording = await this.output.finish();
    await this.#settled();
    return recording;
  }

  async #view(now: number, publisher: PublisherRecord | undefined): Promise<LiveView> {
    if (now >= this.#nextEventCheck) {
      this.#nextEventCheck = now + EVENT_CHECK_MS;
      this.#over = await this.opts.watch.over();
    }
    const period = this.#period;
    return {
      over: this.#over,
      publisher: publisher?.session,
      period: period && {
        publisher: period.publisher,
        exited: period.hasExited,
        copyBroken:
          period.passthrough &&
          publisher?.session === period.publisher &&
          publisher.keyframeSeconds !== undefined &&
          !keyframesAllowCopy(publisher.keyframeSeconds, this.opts.config.live.segmentSeconds),
      },
      presenterStopped: !publisher && !period ? await this.opts.watch.presenterStopped() : false,
      secondsWithoutPublisher: (now - this.#lastPublisherAt) / 1000,
      graceSeconds: this.opts.config.live.reconnectGraceSeconds,
      mayStart: now >= this.#retryAt,
    };
  }

  /** Another worker may own the stream now: nothing is written or reported from here on. */
  #abandon(): void {
    this.#silent = true;
    this.output.fence();
    this.#period?.abandon();
  }

  async #interrupt(reason: unknown, abandoned: boolean): Promise<never> {
    if (abandoned) {
      this.#abandon();
      await this.#stopPeriod('lost the job', 'kill');
    } else {
      await this.#stopPeriod('handing the stream over', 'finish');
      await this.#settled();
    }
    throw new LiveInterrupted(reason, abandoned);
  }

  /**
   * The encoder's keyframe interval as the ingest measured it. A new stream's is not known before
   * its second keyframe: wait for it as long as a copyable cadence can take (the segment target,
   * plus the ingest's one-second report); an encoder silent for longer cannot be copied anyway.
   */
  async #keyframeCadence(publisher: PublisherRecord): Promise<number | undefined> {
    const wait = (this.opts.config.live.segmentSeconds + CADENCE_REPORT_SECONDS) * 1000;
    for (;;) {
      const latest = await this.opts.watch.publisher();
      if (latest?.session !== publisher.session) return undefined;
      // From when media began to arrive, as the ingest now says: an SRT or WHIP bridge starts
      // publishing a few seconds after its presenter was admitted.
      if (latest.keyframeSeconds !== undefined || Date.now() >= latest.since + wait)
        return latest.keyframeSeconds;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async #startPeriod(publisher: PublisherRecord): Promise<void> {
    const { config, log } = this.opts;
    try {
      // The ingest publishes the stream under the event id, never its key; the URL is signed now.
      const url = this.opts.pullUrl(publisher);
      const report = await probeMedia(url, config.ffprobePath, ['-analyzeduration', '2000000']);
      const facts = judgeLiveSource(report);
      if (!facts.video) throw new Error('the stream has no video');
      if (!this.output.layout) {
        await this.output.setLayout({
          ladder: selectLadder(facts.video, DEFAULT_LADDER_POLICY),
          audio: Boolean(facts.audio),
        });
      }
      const layout = this.output.layout!;
      // The top rung is copied only when the encoder's keyframes let it cut at the segment target
      // (as the ingest measured them, after the probe: a second keyframe has usually come by then);
      // otherwise, or while unknown, every rung is encoded with fixed GOPs.
      const keyframeSeconds = await this.#keyframeCadence(publisher);
      const passthrough =
        config.live.passthrough &&
        canPassThrough(facts.video, layout.ladder) &&
        keyframesAllowCopy(keyframeSeconds, config.live.segmentSeconds);
      // A stream that lost its audio on reconnect leaves the audio rendition's period empty.
      const audio = layout.audio && Boolean(facts.audio);
      const { name, target } = await this.output.beginPeriod();
      const args = buildLiveTranscodeArgs({
        input: url,
        ladder: layout.ladder,
        passthrough,
        audio,
        segmentSeconds: config.live.segmentSeconds,
        partSeconds: config.live.partSeconds,
        x264Preset: config.x264Preset,
        audioBitrateKbps: 128,
      });
      const renditions = liveRenditions({ ladder: layout.ladder, audio });
      // Dies with this worker (parent-death signal): a SIGKILLed worker leaves no ffmpeg behind.
      const child = spawnFfmpeg(config.ffmpegPath, args, renditions.length);
      const pipes = renditions.map((_, i) => child.stdio[FIRST_PIPE_FD + i] as Readable);
      const sink = new LivePeriodPipes(this.opts.storage, target, name, renditions, pipes, {
        segmentSeconds: config.live.segmentSeconds,
        log,
      });
      this.#period = new PeriodRun(name, publisher.session, passthrough, child, sink, () => this.#wake?.());
      this.#encoderGoneReported = false;
      log.info('live period started', { period: name, passthrough, audio });
      this.#emit('period-started', { period: name, passthrough, audio });
    } catch (err) {
      log.warn('could not start a live period', {
        err: redactStreamKeys(err instanceof Error ? err.message : String(err)),
      });
      this.#retryAt = Date.now() + RETRY_START_MS;
    }
  }

  async #stopPeriod(why: string, how: 'finish' | 'kill'): Promise<void> {
    const period = this.#period;
    if (!period) return;
    this.#period = undefined;
    const failed = period.hasExited;
    await period.stop(how);
    const detail = failed ? `${why}: ${redactStreamKeys(lastErrorLine(period.stderr))}` : why;
    this.opts.log[failed ? 'warn' : 'info']('live period ended', { period: period.name, why: detail });
    this.#emit('period-ended', { period: period.name, why: detail });
  }

  #health(publisher: PublisherRecord | undefined): void {
    const period = this.#period;
    const speed = period?.speed;
    this.#slowSamples = speed !== undefined && speed < FALLING_BEHIND_SPEED ? this.#slowSamples + 1 : 0;
    if (this.#slowSamples === 3 && speed !== undefined)
      this.#emit('stalled', { why: 'falling-behind', speed });
    const layout = this.output.layout;
    this.#emit('health', {
      inputBitrate: publisher?.inputBitrate ?? null,
      fps: period?.fps ?? null,
      speed: speed ?? null,
      droppedFrames: period?.droppedFrames ?? 0,
      droppedSeconds: Math.round(this.output.droppedSeconds() * 10) / 10,
      periods: this.output.periods,
      passthrough: period?.passthrough ?? false,
      renditions: layout ? layout.ladder.rungs.map((r) => r.name) : [],
      keyframeSeconds: publisher?.keyframeSeconds ?? null,
      keyframeAdvice:
        keyframeAdvice(publisher?.keyframeSeconds, this.opts.config.live.segmentSeconds) ?? null,
    });
  }

  /** Sleeps a tick, or less when something happens (ffmpeg exits, the job is aborted, a listener fails). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
