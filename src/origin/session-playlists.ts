import crypto from 'node:crypto';
import { parseMediaPlaylist, type MediaPlaylist } from '../../pipelines/hls-playlist.ts';
import {
  sessionWindow,
  timelineOf,
  writeSessionPlaylist,
  type SessionTimeline,
  type TimedMarker,
} from '../../pipelines/simulive.ts';
import type { Storage } from '../storage/storage.ts';
import { SingleFlight } from './object-cache.ts';

/** A session of an automated webinar, as the origin needs it. */
export interface AiringSession {
  readonly startMs: number;
  /** After this, the session's playlists and segments are refused (no replay, or it expired). */
  readonly closesAtMs: number;
  readonly markers: readonly TimedMarker[];
}

interface ParsedRendition {
  readonly playlist: MediaPlaylist;
  readonly timeline: SessionTimeline;
  readonly indexOf: ReadonlyMap<string, number>;
}

export interface SessionAnswer {
  readonly status: number;
  readonly body?: Buffer;
  readonly etag?: string;
  readonly cacheControl?: string;
  readonly text?: string;
}

/** Live window of a session: the same as a live stream's default DVR. */
const WINDOW_SECONDS = 120;
const MIN_SEGMENTS = 6;
/** CTAs and polls are announced this far ahead of the picture, so players have them on time. */
const MARKER_LOOKAHEAD_SECONDS = 10;
/** A player may ask for the segment starting now a moment early (clock steps, rounding). */
const EARLY_TOLERANCE_SECONDS = 0.5;
/** Parsed rendition playlists kept (a few per automated webinar airing now). */
const MAX_RENDITIONS = 1000;

/**
 * Serves automated sessions from VOD renditions: media playlists computed from the recording's
 * playlist and the clock (`pipelines/simulive.ts`), segments refused until their time has come.
 * Every viewer of a session asks for the same few texts, so they are cached by what they list.
 */
export class SessionPlaylists {
  readonly #renditions = new Map<string, ParsedRendition>();
  readonly #loading = new SingleFlight<ParsedRendition | undefined>();
  readonly #texts = new Map<string, { body: Buffer; etag: string }>();

  constructor(private readonly storage: Storage) {}

  /**
   * A rendition of a published revision, parsed once and kept: a published revision never changes
   * (a new encode is a new revision, so a new key). Every session's viewers share one read.
   */
  async #rendition(playlistKey: string): Promise<ParsedRendition | undefined> {
    const cached = this.#renditions.get(playlistKey);
    if (cached) return cached;
    return this.#loading.run(playlistKey, async () => {
      const text = await this.storage.readText(playlistKey);
      if (text === undefined) return undefined;
      const playlist = parseMediaPlaylist(text);
      const parsed: ParsedRendition = {
        playlist,
        timeline: timelineOf(playlist.segments),
        indexOf: new Map(playlist.segments.map((s, i) => [s.uri, i])),
      };
      if (this.#renditions.size >= MAX_RENDITIONS) {
        // Oldest first out (a Map keeps insertion order); one still airing is simply read again.
        this.#renditions.delete(this.#renditions.keys().next().value!);
      }
      this.#renditions.set(playlistKey, parsed);
      return parsed;
    });
  }

  /** A rendition's media playlist (its storage key) for the session, at `nowMs`. */
  async playlist(playlistKey: string, session: AiringSession, nowMs: number): Promise<SessionAnswer> {
    const elapsed = (nowMs - session.startMs) / 1000;
    if (elapsed < 0) return { status: 404, text: 'this session has not started' };
    if (nowMs >= session.closesAtMs) return { status: 403, text: 'this session is over' };
    const rendition = await this.#rendition(playlistKey);
    if (!rendition) return { status: 404 };
    const window = sessionWindow(rendition.timeline, elapsed, WINDOW_SECONDS, MIN_SEGMENTS);
    if (window === 'waiting') return { status: 404, text: 'this session has not started' };
    const key = `${playlistKey}|${session.startMs}|${window.first}|${window.last}|${window.ended}`;
    let hit = this.#texts.get(key);
    if (!hit) {
      const text = writeSessionPlaylist(
        rendition.playlist,
        rendition.timeline,
        window,
        session.startMs,
        session.markers,
        MARKER_LOOKAHEAD_SECONDS,
      );
      hit = {
        body: Buffer.from(text),
        etag: `"${crypto.createHash('sha1').update(key).digest('base64url').slice(0, 16)}"`,
      };
      if (this.#texts.size > 20_000) this.#texts.clear();
      this.#texts.set(key, hit);
    }
    return {
      status: 200,
      body: hit.body,
      etag: hit.etag,
      // Live: changes with every segment. Replay: fixed text.
      cacheControl: window.ended ? 'public, max-age=300' : 'public, max-age=1',
    };
  }

  /**
   * Whether a media segment of the session may be served at `nowMs` (its start time has come).
   * `renditionKey` is the storage key of the rendition's folder (`assets/<id>/<revision>/720p`).
   */
  async segmentAllowed(
    renditionKey: string,
    file: string,
    session: AiringSession,
    nowMs: number,
  ): Promise<'ok' | 'not_yet' | 'closed' | 'unknown'> {
    if (nowMs >= session.closesAtMs) return 'closed';
    const rendition = await this.#rendition(`${renditionKey}/index.m3u8`);
    const index = rendition?.indexOf.get(file);
    if (!rendition || index === undefined) return 'unknown';
    const elapsed = (nowMs - session.startMs) / 1000;
    return rendition.timeline.starts[index]! <= elapsed + EARLY_TOLERANCE_SECONDS ? 'ok' : 'not_yet';
  }
}
