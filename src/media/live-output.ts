import crypto from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  parseMediaPlaylist,
  writeMediaPlaylist,
  type MediaPlaylist,
  type PartialSegment,
} from '../../pipelines/hls-playlist.ts';
import { lowLatencyPlaylist, renditionReport, type PendingSegment } from '../../pipelines/ll-hls-window.ts';
import { publishablePlaylist } from '../../pipelines/hls-publisher.ts';
import {
  LiveTimeline,
  droppedSeconds,
  periodAnchorMs,
  periodName,
  type LiveWindowOptions,
  type PeriodRecord,
} from '../../pipelines/live-playlist.ts';
import { AUDIO_RENDITION } from '../../pipelines/vod-args.ts';
import type { Ladder } from '../../pipelines/vod-ladder.ts';
import {
  claimLiveOutput,
  ownsLiveOutput,
  publishLivePart,
  publishLivePlaylist,
} from '../live/live-playlists.ts';
import type { Logger } from '../log.ts';
import type { Storage } from '../storage/storage.ts';
import { MASTER_PLAYLIST, previewMasterText } from './hls-output.ts';
import type { StoredMediaFile } from './hls-sink.ts';
import { partFile, segmentFile, type LivePart, type LivePeriodTarget } from './live-packaging.ts';
import { revisionPrefix } from './layout.ts';

/** The revision folder a live recording is written to, and later published from as the replay. */
export const LIVE_REVISION = 'live';
/** The job's state a worker taking the stream over needs, next to the media (`<prefix>/live.json`). */
const STATE_FILE = 'live.json';
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/** Redis forgets a live playlist an hour after its last update: the master is refreshed well before. */
const MASTER_REFRESH_MS = 10 * 60_000;

/** Decided when the stream first arrives and kept for the whole event (the master playlist names it). */
export interface LiveLayout {
  readonly ladder: Ladder;
  readonly audio: boolean;
}

interface LiveState {
  readonly version: 1;
  readonly layout: LiveLayout;
  readonly periods: readonly PeriodRecord[];
}

export function liveRenditions(layout: LiveLayout): string[] {
  return [...layout.ladder.rungs.map((r) => r.name), ...(layout.audio ? [AUDIO_RENDITION] : [])];
}

const StateSchema = z.object({
  version: z.literal(1),
  // The ladder is this code's own output, read back: its rungs' names are what the rest relies on.
  layout: z.object({
    ladder: z.looseObject({ rungs: z.array(z.looseObject({ name: z.string().min(1) })).min(1) }),
    audio: z.boolean(),
  }),
  periods: z.array(
    z.object({ name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), startedAtMs: z.number().optional() }),
  ),
});

function parseState(text: string): LiveState {
  const parsed = StateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${STATE_FILE} of a live recording is not one this version wrote`);
  return parsed.data as unknown as LiveState;
}

/** What the live job sees of its output (the session turns these into its events). */
export interface LiveOutputHooks {
  /** A media file of the current period is stored. */
  segment?(file: StoredMediaFile): void;
  /** A live playlist (`master.m3u8` or `<rendition>/index.m3u8`) was published to Redis and storage. */
  published?(file: string, text: string): void;
  /** The period's first segment is in the published live playlists, and the master names them. */
  onAir?(period: string): void;
}

export interface LiveOutputOptions {
  readonly storage: Storage;
  readonly redis: Redis;
  readonly assetId: string;
  readonly window: LiveWindowOptions;
  readonly log: Logger;
  /**
   * This job's fencing token: claimed on `resume`, checked before every write (see
   * `claimLiveOutput`). Without one, writes are not fenced (unit tests of the logic).
   */
  readonly owner?: string;
  /**
   * Low-Latency HLS: the rendition playlists origins serve (from Redis) list parts of this length
   * near the live edge; storage keeps the regular playlists (takeovers, the replay).
   */
  readonly lowLatency?: { readonly partSeconds: number } | undefined;
}

/** Whole segments whose parts are remembered per rendition (more than the three target durations listed). */
const KEPT_PART_SEGMENTS = 12;

/** The recording at the end: every period of every rendition, for the replay (no re-encode). */
export interface LiveRecording {
  readonly layout: LiveLayout;
  /** Rendition → its complete playlist (URIs relative to `<prefix>/<rendition>/`). */
  readonly playlists: ReadonlyMap<string, MediaPlaylist>;
  /** Sizes the sink reported, keyed `<rendition>/<uri>` (what `finalizeHls` takes). */
  readonly sizes: ReadonlyMap<string, number>;
  /** Seconds of the top rendition. */
  readonly seconds: number;
}

/**
 * The live output of one live event, built in memory: every period's playlist as ffmpeg sends it
 * to the segment sink (cut to what is stored), stitched into each rendition's live window and
 * published -- only when it changed -- to Redis (what origins serve) and storage (their fallback).
 *
 * Order of writes, so a takeover never lists less than viewers already saw: `live.json` (layout,
 * periods, anchors) before any playlist of a period, a period's own playlist
 * (`<rendition>/<period>/index.m3u8`) before the live window that lists its segments, every
 * rendition's window before the master. A worker taking over reads `live.json` and the period
 * playlists back (`resume`) and goes on with a new period.
 */
export class LiveOutput {
  readonly prefix: string;
  hooks: LiveOutputHooks = {};
  #layout: LiveLayout | undefined;
  #timeline: LiveTimeline | undefined;
  /** Names this run's periods apart from any other worker's (one that lost the lock, say). */
  readonly #tag = crypto.randomBytes(2).toString('hex');
  /** When each top-rendition segment of a period not yet anchored was finished (sink path → ms). */
  readonly #finishedAt = new Map<string, number>();
  readonly #sizes = new Map<string, number>();
  /** Video rendition → the start of its latest init section (codec strings for the master). */
  readonly #initHeads = new Map<string, Buffer>();
  /** `<rendition>/<period>` whose playlist changed since it was stored. */
  readonly #unstored = new Set<string>();
  /** Rendition → the window text last published, and the last period it lists. */
  readonly #published = new Map<string, string>();
  readonly #lastListed = new Map<string, string>();
  #master: string | undefined;
  #masterAt = 0;
  readonly #onAir = new Set<string>();
  #ended = false;
  #fenced = false;
  readonly #chains = new Map<string, Promise<void>>();
  /** LL-HLS, per rendition: the regular window last built, the parts of recent segments, the segment in progress. */
  readonly #windows = new Map<string, MediaPlaylist>();
  readonly #parts = new Map<string, Map<string, readonly PartialSegment[]>>();
  readonly #pending = new Map<string, PendingSegment>();
  readonly #lowLatency = new Map<string, { text: string; playlist: MediaPlaylist }>();

  private constructor(private readonly opts: LiveOutputOptions) {
    this.prefix = revisionPrefix(opts.assetId, LIVE_REVISION);
  }

  /**
   * The live output of an asset, as far as storage has it: empty for a new stream, or what another
   * worker recorded before it died (its periods, their playlists, the layout) to carry on from.
   */
  static async resume(opts: LiveOutputOptions, resumeOpts: { ended?: boolean } = {}): Promise<LiveOutput> {
    const output = new LiveOutput(opts);
    // A stream already over (its replay to publish again) is republished with its end, no master.
    output.#ended = resumeOpts.ended ?? false;
    if (opts.owner !== undefined) await claimLiveOutput(opts.redis, opts.assetId, opts.owner);
    const text = await opts.storage.readText(`${output.prefix}/${STATE_FILE}`);
    if (text === undefined) return output;
    const state = parseState(text);
    output.#layout = state.layout;
    const timeline = new LiveTimeline(liveRenditions(state.layout), state.periods);
    output.#timeline = timeline;
    const anchored = state.periods.filter((p) => p.startedAtMs !== undefined);
    const loaded = await Promise.all(
      anchored.flatMap((p) =>
        timeline.renditions.map(async (r) => ({
          r,
          p: p.name,
          text: await opts.storage.readText(`${output.prefix}/${r}/${p.name}/index.m3u8`),
        })),
      ),
    );
    for (const { r, p, text: playlist } of loaded) {
      if (playlist !== undefined) timeline.update(r, p, parseMediaPlaylist(playlist));
    }
    output.#master = await opts.storage.readText(`${output.prefix}/${MASTER_PLAYLIST}`);
    // What viewers saw, published again: Redis may have lost it, and `#published` must know it.
    await Promise.all(timeline.renditions.map((r) => output.#publish(r)));
    return output;
  }

  get layout(): LiveLayout | undefined {
    return this.#layout;
  }

  /** Periods begun so far, by any worker. */
  get periods(): number {
    return this.#timeline?.records.length ?? 0;
  }

  /** Whether a stream was recorded here before this run (a takeover, or a replay to publish again). */
  get resumed(): boolean {
    return this.periods > 0;
  }

  /** Seconds lost between periods (reconnects, takeovers), from the periods' anchors. */
  droppedSeconds(): number {
    return this.#timeline ? droppedSeconds(this.#timeline.periodsOf(this.#timeline.top)) : 0;
  }

  /** Every live playlist this output publishes (for `dropLivePlaylists` once the replay is out). */
  files(): string[] {
    return [MASTER_PLAYLIST, ...(this.#timeline?.renditions ?? []).map((r) => `${r}/index.m3u8`)];
  }

  /** Fixes the ladder when the stream first arrives. */
  async setLayout(layout: LiveLayout): Promise<void> {
    if (this.#layout) throw new Error('the live layout is fixed already');
    this.#layout = layout;
    this.#timeline = new LiveTimeline(liveRenditions(layout));
    await this.#saveState();
  }

  /**
   * Registers a new period (in `live.json`, so no later worker reuses its name) and returns the
   * sink target its ffmpeg writes to: `<rendition>/<period>/…` under the recording's prefix.
   */
  async beginPeriod(): Promise<{ name: string; target: LivePeriodTarget }> {
    const timeline = this.#timeline;
    if (!timeline) throw new Error('the live layout is not set yet');
    const name = periodName(timeline.records.length + 1, this.#tag);
    timeline.begin(name);
    await this.#saveState();
    return {
      name,
      target: {
        prefix: this.prefix,
        onStored: (file) => this.#stored(name, file),
        onPlaylist: (path, text, isStored) => this.#playlist(name, path, text, isStored),
        onPart: (rendition, part) => this.#part(name, rendition, part),
      },
    };
  }

  /**
   * Stops every write from now on: this worker lost the job's lock, so another may own the stream
   * (and `live.json`). What is in flight is left as it lands; nothing lists it.
   */
  fence(): void {
    this.#fenced = true;
  }

  /**
   * The stream is over (its ffmpeg stopped and its sink session idle): publishes each rendition's
   * live playlist in full with its end (players play out), and returns the recording.
   */
  async finish(): Promise<LiveRecording | undefined> {
    const timeline = this.#timeline;
    const layout = this.#layout;
    if (!timeline || !layout) return undefined;
    this.#ended = true;
    await Promise.all(timeline.renditions.map((r) => this.#publish(r)));
    const playlists = new Map(timeline.renditions.map((r) => [r, timeline.recording(r)]));
    const seconds = playlists.get(timeline.top)!.segments.reduce((s, x) => s + x.duration, 0);
    return { layout, playlists, sizes: this.#sizes, seconds };
  }

  #stored(period: string, file: StoredMediaFile): void {
    const [rendition, folder, name] = file.path.split('/');
    const timeline = this.#timeline;
    if (!timeline || folder !== period || !rendition || !name) return;
    if (name.endsWith('.m4s')) {
      this.#sizes.set(file.path, file.bytes);
      if (rendition === timeline.top && timeline.anchorOf(period) === undefined) {
        this.#finishedAt.set(file.path, file.finishedAtMs);
      }
    } else if (name.endsWith('.mp4') && file.head && rendition !== AUDIO_RENDITION) {
      this.#initHeads.set(rendition, file.head);
    }
    this.hooks.segment?.(file);
  }

  async #playlist(
    period: string,
    path: string,
    text: string,
    isStored: (path: string) => boolean,
  ): Promise<void> {
    const timeline = this.#timeline;
    const match = /^([^/]+)\/([^/]+)\/index\.m3u8$/.exec(path);
    if (this.#fenced || !timeline || !match || match[2] !== period) return;
    const rendition = match[1]!;
    if (!timeline.renditions.includes(rendition)) return;
    const playlist = publishablePlaylist(parseMediaPlaylist(text), (uri) =>
      isStored(`${rendition}/${period}/${uri}`),
    );
    if (!playlist || !timeline.update(rendition, period, playlist)) return;
    this.#unstored.add(`${rendition}/${period}`);
    if (rendition === timeline.top && timeline.anchorOf(period) === undefined) {
      const anchor = periodAnchorMs(playlist, (uri) => this.#finishedAt.get(`${rendition}/${period}/${uri}`));
      if (anchor === undefined) return;
      timeline.anchor(period, anchor);
      for (const key of this.#finishedAt.keys()) {
        if (key.startsWith(`${rendition}/${period}/`)) this.#finishedAt.delete(key);
      }
      // The anchor is stored before any playlist of the period; the other renditions waited for it.
      await this.#saveState();
      await Promise.all(timeline.renditions.map((r) => this.#publish(r)));
      return;
    }
    await this.#publish(rendition);
  }

  /**
   * An LL-HLS part of the segment in progress: to Redis at once, then listed. The publish is a
   * compare-and-set on the owner token, so no separate ownership read on this path (3 a second per rendition).
   */
  async #part(period: string, rendition: string, part: LivePart): Promise<void> {
    const timeline = this.#timeline;
    const ll = this.opts.lowLatency;
    if (this.#fenced || this.#ended || !ll || !timeline?.renditions.includes(rendition)) return;
    const published = await publishLivePart(
      this.opts.redis,
      this.opts.assetId,
      `${rendition}/${part.uri}`,
      part.bytes,
      this.opts.owner,
    );
    if (!published) this.#fenceOff();
    const pending = this.#pending.get(rendition);
    const parts: PartialSegment[] = pending?.segmentUri === part.segmentUri ? [...pending.parts] : [];
    if (pending && pending.segmentUri !== part.segmentUri) this.#keepParts(rendition, pending);
    parts.push({ uri: part.uri, duration: part.duration, independent: part.independent });
    const seconds = parts.reduce((sum, p) => sum + p.duration, 0);
    // The next part: the next of this segment, or the first of the next once this one is full.
    const full = seconds >= this.opts.window.segmentSeconds - ll.partSeconds / 2;
    this.#pending.set(rendition, {
      segmentUri: part.segmentUri,
      parts,
      nextPartUri: `${period}/${full ? partFile(part.msn + 1, 0) : partFile(part.msn, part.index + 1)}`,
    });
    await this.#serial(rendition, () => this.#publishLowLatency(rendition));
  }

  #keepParts(rendition: string, segment: PendingSegment): void {
    const kept = this.#parts.get(rendition) ?? new Map<string, readonly PartialSegment[]>();
    kept.set(segment.segmentUri, segment.parts);
    while (kept.size > KEPT_PART_SEGMENTS) kept.delete(kept.keys().next().value!);
    this.#parts.set(rendition, kept);
  }

  /** The rendition's LL-HLS playlist, to Redis only (storage keeps the regular one), when it changed. */
  async #publishLowLatency(rendition: string): Promise<void> {
    const window = this.#windows.get(rendition);
    const ll = this.opts.lowLatency;
    if (this.#fenced || this.#ended || !window || !ll || !this.#timeline) return;
    const pending = this.#pending.get(rendition);
    const kept = this.#parts.get(rendition);
    const reports = this.#timeline.renditions
      .filter((r) => r !== rendition && this.#lowLatency.has(r))
      .map((r) => renditionReport(`../${r}/index.m3u8`, this.#lowLatency.get(r)!.playlist));
    const playlist = lowLatencyPlaylist(
      window,
      (uri) => kept?.get(uri) ?? (pending?.segmentUri === uri ? pending.parts : undefined),
      pending,
      nextSegmentUri,
      { segmentSeconds: this.opts.window.segmentSeconds, partSeconds: ll.partSeconds },
      reports,
    );
    const text = writeMediaPlaylist(playlist);
    if (this.#lowLatency.get(rendition)?.text === text) return;
    const file = `${rendition}/index.m3u8`;
    if (!(await publishLivePlaylist(this.opts.redis, this.opts.assetId, file, text, this.opts.owner)))
      this.#fenceOff();
    this.#lowLatency.set(rendition, { text, playlist });
  }

  /** One rendition's publishing, one at a time and in order (and `live.json` on a lane of its own). */
  #serial(lane: string, work: () => Promise<void>): Promise<void> {
    const next = (this.#chains.get(lane) ?? Promise.resolve()).then(work).catch((err: unknown) => {
      if (!(err instanceof Fenced)) throw err;
    });
    // The lane goes on after a failure; the caller (the sink's request) sees and reports it.
    this.#chains.set(
      lane,
      next.catch(() => undefined),
    );
    return next;
  }

  #saveState(): Promise<void> {
    return this.#serial('#state', async () => {
      if (this.#fenced || !this.#layout || !this.#timeline) return;
      const state: LiveState = { version: 1, layout: this.#layout, periods: this.#timeline.records };
      await this.#store(STATE_FILE, JSON.stringify(state), 'application/json');
    });
  }

  #publish(rendition: string): Promise<void> {
    return this.#serial(rendition, async () => {
      const timeline = this.#timeline;
      if (this.#fenced || !timeline) return;
      const listed = timeline.periodsOf(rendition);
      // The periods' own playlists first: what a takeover rebuilds the window from.
      for (const period of listed) {
        const key = `${rendition}/${period.name}`;
        if (!this.#unstored.delete(key)) continue;
        try {
          await this.#store(`${key}/index.m3u8`, writeMediaPlaylist(period.playlist));
        } catch (err) {
          this.#unstored.add(key);
          throw err;
        }
      }
      const window = timeline.window(rendition, this.#ended, this.opts.window);
      if (!window) return;
      const text = writeMediaPlaylist(window);
      // With LL-HLS, origins get the window with its parts (below); storage the window alone.
      const lowLatency = this.opts.lowLatency !== undefined && !this.#ended;
      if (lowLatency) this.#windows.set(rendition, window);
      if (this.#published.get(rendition) !== text) {
        await this.#put(`${rendition}/index.m3u8`, text, !lowLatency);
        this.#published.set(rendition, text);
        this.#lastListed.set(rendition, listed.at(-1)!.name);
        this.hooks.published?.(`${rendition}/index.m3u8`, text);
      }
      if (lowLatency) await this.#publishLowLatency(rendition);
      await this.#publishMaster();
      this.#announce();
    });
  }

  #publishMaster(): Promise<void> {
    return this.#serial('#master', async () => {
      const timeline = this.#timeline;
      const layout = this.#layout;
      // A master must not name a playlist that is not published yet.
      if (this.#fenced || this.#ended || !timeline || !layout) return;
      if (!timeline.renditions.every((r) => this.#published.has(r))) return;
      // Codec strings from this run's init sections; after a takeover, the master already out will do.
      const text = previewMasterText(layout.ladder, layout.audio, this.#initHeads, undefined) ?? this.#master;
      if (!text || (text === this.#master && Date.now() - this.#masterAt < MASTER_REFRESH_MS)) return;
      await this.#put(MASTER_PLAYLIST, text);
      this.#master = text;
      this.#masterAt = Date.now();
      this.hooks.published?.(MASTER_PLAYLIST, text);
    });
  }

  /** Tells once per period when viewers can see it: its first segment listed, the master out. */
  #announce(): void {
    const timeline = this.#timeline;
    const current = timeline?.current;
    if (!timeline || !current || this.#onAir.has(current) || this.#master === undefined) return;
    if (this.#lastListed.get(timeline.top) !== current) return;
    this.#onAir.add(current);
    this.hooks.onAir?.(current);
  }

  /** Every write goes through here or `#put`: once fenced, none starts (not even mid-way through a publish). */
  async #store(file: string, text: string, contentType = PLAYLIST_TYPE): Promise<void> {
    await this.#checkOwner();
    await this.opts.storage.putBytes(`${this.prefix}/${file}`, text, { contentType });
  }

  /** A live playlist to storage and (unless `toRedis` is false: its LL-HLS form goes there) Redis. */
  async #put(file: string, text: string, toRedis = true): Promise<void> {
    await this.#checkOwner();
    const [, published] = await Promise.all([
      this.opts.storage.putBytes(`${this.prefix}/${file}`, text, { contentType: PLAYLIST_TYPE }),
      toRedis
        ? publishLivePlaylist(this.opts.redis, this.opts.assetId, file, text, this.opts.owner)
        : Promise.resolve(true),
    ]);
    if (!published) this.#fenceOff();
  }

  /** Refuses the write once fenced, or when another job has claimed the output since (lock lost). */
  async #checkOwner(): Promise<void> {
    if (this.#fenced) throw new Fenced();
    const { owner, redis, assetId } = this.opts;
    if (owner !== undefined && !(await ownsLiveOutput(redis, assetId, owner))) this.#fenceOff();
    // Fenced while Redis answered (the job aborted meanwhile): the write must not start either.
    if (this.#fenced) throw new Fenced();
  }

  #fenceOff(): never {
    if (!this.#fenced)
      this.opts.log.warn('another worker owns this live stream now; this one writes no more');
    this.#fenced = true;
    throw new Fenced();
  }
}

/** Thrown (and taken as a no-op by the lane) when a write is refused after `fence()`. */
class Fenced extends Error {
  constructor() {
    super('the live output is fenced: another worker may own the stream');
  }
}

/** The URI of the segment after `uri` in the same period (`<period>/seg_00012.m4s` → `…/seg_00013.m4s`). */
function nextSegmentUri(uri: string): string | undefined {
  const match = /^(.+\/)seg_(\d+)\.m4s$/.exec(uri);
  return match ? `${match[1]}${segmentFile(Number(match[2]) + 1)}` : undefined;
}
