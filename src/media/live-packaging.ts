import type { Readable } from 'node:stream';
import { writeMediaPlaylist, type MediaSegment } from '../../pipelines/hls-playlist.ts';
import {
  FragmentedMp4Packager,
  type PackagerEvent,
  type PartEvent,
} from '../../pipelines/ll-hls-packager.ts';
import type { Logger } from '../log.ts';
import type { Storage } from '../storage/storage.ts';
import type { SinkSession, SinkTarget } from './hls-sink.ts';

/** A part of a live period, as the live output lists it (`uri` relative to the rendition). */
export interface LivePart extends Omit<PartEvent, 'type'> {
  readonly uri: string;
  /** The URI of the segment it belongs to, once whole. */
  readonly segmentUri: string;
}

/** A sink target that also takes LL-HLS parts (which are not stored: they go to Redis). */
export interface LivePeriodTarget extends SinkTarget {
  onPart?(rendition: string, part: LivePart): void | Promise<void>;
}

export const INIT_FILE = 'init.mp4';
export const segmentFile = (msn: number) => `seg_${String(msn).padStart(5, '0')}.m4s`;
export const partFile = (msn: number, index: number) => `part_${String(msn).padStart(5, '0')}_${index}.m4s`;

/** Bytes kept of an init section for its codec configuration (as the segment sink keeps). */
const HEAD_BYTES = 64 * 1024;

/**
 * One live period's output, from ffmpeg's fragmented-MP4 pipes (one per rendition) to the same
 * events the segment sink gives for ffmpeg's HLS muxer: the init section and each segment stored
 * under `<rendition>/<period>/`, the period's playlist after each segment, and, as they arrive,
 * the parts of the segment in progress. Each rendition is handled in order on a chain of its own;
 * parts go on a second chain, so a slow storage write never holds the next part back.
 */
export class LivePeriodPipes implements SinkSession {
  readonly baseUrl = '';
  #error: Error | undefined;
  #closed = false;
  readonly #stored = new Set<string>();
  readonly #work = new Set<Promise<unknown>>();
  readonly #ended: Promise<void>[] = [];

  constructor(
    private readonly storage: Storage,
    private readonly target: LivePeriodTarget,
    private readonly period: string,
    renditions: readonly string[],
    pipes: readonly Readable[],
    private readonly opts: { segmentSeconds: number; log?: Logger },
  ) {
    renditions.forEach((rendition, i) => this.#follow(rendition, pipes[i]!));
  }

  failure(): Error | undefined {
    return this.#error;
  }

  isStored(path: string): boolean {
    return this.#stored.has(path);
  }

  /** Resolves once every pipe has ended and what came through them is stored and published. */
  async idle(): Promise<void> {
    await Promise.allSettled(this.#ended);
    while (this.#work.size > 0) await Promise.allSettled([...this.#work]);
  }

  close(): void {
    this.#closed = true;
  }

  #follow(rendition: string, pipe: Readable): void {
    const packager = new FragmentedMp4Packager({ segmentSeconds: this.opts.segmentSeconds });
    const folder = `${rendition}/${this.period}`;
    const segments: MediaSegment[] = [];
    let media: Promise<void> = Promise.resolve();
    let parts: Promise<void> = Promise.resolve();
    let broken = false;
    const track = (p: Promise<void>) => {
      const tracked = p.catch((err: unknown) => this.#fail(rendition, err));
      this.#work.add(tracked);
      void tracked.finally(() => this.#work.delete(tracked));
      return tracked;
    };
    const playlist = (ended: boolean) =>
      writeMediaPlaylist({
        targetDuration: Math.max(1, Math.ceil(Math.max(...segments.map((s) => s.duration), 0))),
        mediaSequence: 0,
        mapUri: INIT_FILE,
        segments,
        ended,
      });
    const handle = (event: PackagerEvent, at: number) => {
      if (event.type === 'part') {
        const uri = `${this.period}/${partFile(event.msn, event.index)}`;
        const { type: _type, ...part } = event;
        const segmentUri = `${this.period}/${segmentFile(event.msn)}`;
        parts = track(
          parts.then(async () => {
            if (!this.#closed) await this.target.onPart?.(rendition, { ...part, uri, segmentUri });
          }),
        );
        return;
      }
      const name = event.type === 'init' ? INIT_FILE : segmentFile(event.msn);
      const path = `${folder}/${name}`;
      const duration = event.type === 'segment' ? event.duration : 0;
      media = track(
        media.then(async () => {
          if (this.#closed) return;
          const bytes = Buffer.from(event.bytes.buffer, event.bytes.byteOffset, event.bytes.byteLength);
          await this.storage.putBytes(`${this.target.prefix}/${path}`, bytes, {
            contentType: event.type === 'init' ? 'video/mp4' : 'video/iso.segment',
          });
          this.#stored.add(path);
          await this.target.onStored?.({
            path,
            bytes: event.bytes.length,
            head: event.type === 'init' ? Buffer.from(event.bytes.subarray(0, HEAD_BYTES)) : undefined,
            finishedAtMs: at,
          });
          if (event.type !== 'segment') return;
          segments.push({ uri: name, duration });
          await this.target.onPlaylist(`${folder}/index.m3u8`, playlist(false), (p) => this.#stored.has(p));
        }),
      );
    };
    this.#ended.push(
      new Promise<void>((resolve) => {
        pipe.on('data', (chunk: Buffer) => {
          if (broken) return;
          try {
            for (const event of packager.push(chunk)) handle(event, Date.now());
          } catch (err) {
            // A stream this code cannot cut: nothing more of this rendition is taken.
            broken = true;
            this.#fail(rendition, err);
          }
        });
        pipe.once('error', (err) => this.#fail(rendition, err));
        pipe.once('close', () => {
          if (!broken) for (const event of packager.end()) handle(event, Date.now());
          // The period's playlist, complete: what the replay is stitched from.
          media = track(
            media.then(async () => {
              if (this.#closed || segments.length === 0) return;
              await this.target.onPlaylist(`${folder}/index.m3u8`, playlist(true), (p) =>
                this.#stored.has(p),
              );
            }),
          );
          void media.then(() => resolve());
        });
      }),
    );
  }

  #fail(rendition: string, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!this.#error) {
      this.#error = error;
      this.opts.log?.warn('live output of a rendition failed', { rendition, err: error.message });
    }
  }
}
