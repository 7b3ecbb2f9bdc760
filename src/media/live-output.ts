import fs from 'node:fs/promises';
import path from 'node:path';
import { parseMediaPlaylist, writeMediaPlaylist, type MediaSegment } from '../../pipelines/hls-playlist.ts';
import {
  liveMediaPlaylist,
  stitchPeriods,
  type LivePeriod,
  type LiveWindowOptions,
} from '../../pipelines/live-playlist.ts';
import { AUDIO_RENDITION } from '../../pipelines/vod-args.ts';
import type { Ladder } from '../../pipelines/vod-ladder.ts';
import { writeAtomically } from './hls-output.ts';

/** The revision folder a live recording is written to, and later published from as the replay. */
export const LIVE_REVISION = 'live';
const LAYOUT_FILE = 'live.json';
const PERIOD = /^p\d{4}$/;

/** Decided when the stream first arrives and kept for the whole event (the master playlist names it). */
export interface LiveLayout {
  readonly ladder: Ladder;
  readonly audio: boolean;
}

export async function readLayout(dir: string): Promise<LiveLayout | undefined> {
  const text = await fs.readFile(path.join(dir, LAYOUT_FILE), 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as LiveLayout) : undefined;
}

export async function writeLayout(dir: string, layout: LiveLayout): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await writeAtomically(path.join(dir, LAYOUT_FILE), JSON.stringify(layout));
}

export function liveRenditions(layout: LiveLayout): string[] {
  return [...layout.ladder.rungs.map((r) => r.name), ...(layout.audio ? [AUDIO_RENDITION] : [])];
}

/** Period folders on disk (the first rendition has them all), oldest first. */
export async function listPeriods(dir: string, layout: LiveLayout): Promise<string[]> {
  const first = liveRenditions(layout)[0];
  if (!first) return [];
  const names = await fs.readdir(path.join(dir, first)).catch(() => [] as string[]);
  return names.filter((n) => PERIOD.test(n)).sort();
}

export function periodName(index: number): string {
  return `p${String(index).padStart(4, '0')}`;
}

/**
 * Reads the periods and writes each rendition's live playlist (only when it changed). Period
 * start times come from the top rung's first segment (its mtime minus its duration), so every
 * rendition gets the same EXT-X-PROGRAM-DATE-TIME and a takeover recomputes the same values.
 */
export class LivePlaylistWriter {
  readonly #written = new Map<string, string>();
  readonly #finished = new Map<string, LivePeriod>();
  readonly #anchors = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly layout: LiveLayout,
    private readonly window: LiveWindowOptions,
  ) {}

  /** Marks a period as complete: its playlists will not change again, so they are cached. */
  async #period(rendition: string, name: string, complete: boolean): Promise<LivePeriod | undefined> {
    const key = `${rendition}/${name}`;
    const cached = this.#finished.get(key);
    if (cached) return cached;
    const text = await fs
      .readFile(path.join(this.dir, rendition, name, 'index.m3u8'), 'utf8')
      .catch(() => undefined);
    if (!text) return undefined;
    const playlist = parseMediaPlaylist(text);
    const anchor = await this.#anchor(name);
    if (anchor === undefined) return undefined;
    const period: LivePeriod = { name, playlist, startedAtMs: anchor };
    if (complete) this.#finished.set(key, period);
    return period;
  }

  async #anchor(name: string): Promise<number | undefined> {
    const known = this.#anchors.get(name);
    if (known !== undefined) return known;
    const top = liveRenditions(this.layout)[0]!;
    const text = await fs
      .readFile(path.join(this.dir, top, name, 'index.m3u8'), 'utf8')
      .catch(() => undefined);
    const first = text ? parseMediaPlaylist(text).segments[0] : undefined;
    if (!first) return undefined;
    const stat = await fs.stat(path.join(this.dir, top, name, first.uri)).catch(() => undefined);
    if (!stat) return undefined;
    const anchor = stat.mtimeMs - first.duration * 1000;
    this.#anchors.set(name, anchor);
    return anchor;
  }

  /**
   * Rewrites the playlists. `current` is the period still being written (undefined when none).
   * Returns the stitched segments of the top rendition.
   */
  async publish(current: string | undefined, ended: boolean): Promise<Map<string, MediaSegment[]>> {
    const periods = await listPeriods(this.dir, this.layout);
    const result = new Map<string, MediaSegment[]>();
    for (const rendition of liveRenditions(this.layout)) {
      const loaded: LivePeriod[] = [];
      for (const name of periods) {
        const period = await this.#period(rendition, name, name !== current);
        if (period) loaded.push(period);
      }
      const all = stitchPeriods(loaded);
      result.set(rendition, all);
      if (all.length === 0) continue;
      const text = writeMediaPlaylist(liveMediaPlaylist(all, ended, this.window));
      if (this.#written.get(rendition) === text) continue;
      await writeAtomically(path.join(this.dir, rendition, 'index.m3u8'), text);
      this.#written.set(rendition, text);
    }
    return result;
  }
}
