import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../log.ts';
import type { Storage } from '../storage/storage.ts';

/** A media file (segment or init section) ffmpeg finished and the sink stored. */
export interface StoredMediaFile {
  /** Path inside the session, as ffmpeg named it: `<rendition>[/<period>]/seg_00001.m4s`. */
  readonly path: string;
  readonly bytes: number;
  /** The first bytes, for init sections (codec strings are read from them); undefined for segments. */
  readonly head: Buffer | undefined;
  /** Wall clock when ffmpeg finished sending it (the segment's end, for a live encoder). */
  readonly finishedAtMs: number;
}

/** What one ffmpeg run's output turns into. */
export interface SinkTarget {
  /** Storage key every media file is stored under: `<prefix>/<path>`. */
  readonly prefix: string;
  /** After a media file is stored (before ffmpeg is told it was received). */
  onStored?(file: StoredMediaFile): void | Promise<void>;
  /**
   * A playlist ffmpeg wrote. ffmpeg does not wait for one PUT to be answered before the next, so a
   * playlist can arrive before the files it lists: the sink first waits for those already arriving,
   * and `isStored` (a path inside the session) tells which are stored. The owner publishes only what
   * is stored (`pipelines/hls-publisher.ts`); the sink stores no playlist itself.
   */
  onPlaylist(path: string, text: string, isStored: (path: string) => boolean): Promise<void>;
}

export interface SinkSession {
  /** Give ffmpeg `<baseUrl>/<path>` for every output (`-method PUT`). */
  readonly baseUrl: string;
  /** The first error storing or publishing met (the run's output is then incomplete). */
  failure(): Error | undefined;
  /** Whether a media file (a path inside the session) is stored. */
  isStored(path: string): boolean;
  /** Resolves once nothing received is still being stored or published. */
  idle(): Promise<void>;
  /** Refuses anything more for this session. */
  close(): void;
}

const PATH = /^(?:[A-Za-z0-9_-]{1,64}\/){0,3}[A-Za-z0-9_-]{1,64}\.(m4s|mp4|m3u8)$/;
const MAX_PLAYLIST_BYTES = 1024 * 1024;
/** Init sections are a few hundred bytes; this is plenty for their codec configuration. */
const HEAD_BYTES = 64 * 1024;

interface OpenSession {
  readonly target: SinkTarget;
  readonly pending: Set<Promise<unknown>>;
  /** Media files being received, by path. */
  readonly arriving: Map<string, Promise<void>>;
  readonly stored: Set<string>;
  error: Error | undefined;
  closed: boolean;
}

/**
 * The segment sink: ffmpeg writes its HLS output by HTTP PUT to this loopback server instead of
 * to a folder, so each finished file arrives as an event (no polling of directories, no mtimes)
 * and goes straight into `Storage` (local disk or S3) as it streams in. One per process; each
 * ffmpeg run opens a session with an unguessable path, so another local user cannot inject files.
 */
export class HlsSink {
  readonly #sessions = new Map<string, OpenSession>();

  private constructor(
    private readonly server: http.Server,
    private readonly storage: Storage,
    private readonly log: Logger | undefined,
  ) {}

  static async start(storage: Storage, log?: Logger): Promise<HlsSink> {
    const server = http.createServer();
    // ffmpeg keeps one connection per output open between files; a live segment's PUT lasts its duration.
    server.keepAliveTimeout = 60_000;
    server.requestTimeout = 0;
    // ffmpeg half-closes its connection (FIN) right after sending its last file; Node's HTTP server
    // then destroys every request it has not answered yet, and the tail of the last segments is lost.
    // `httpAllowHalfOpen` (an undocumented field of http.Server) keeps reading them: checked here, so
    // a Node release that renames it fails loudly at start instead of losing segments.
    const halfOpen = server as unknown as { httpAllowHalfOpen?: unknown };
    if (typeof halfOpen.httpAllowHalfOpen !== 'boolean') {
      throw new Error(
        'this Node.js has no http.Server#httpAllowHalfOpen: the segment sink would lose the last segments',
      );
    }
    halfOpen.httpAllowHalfOpen = true;
    const sink = new HlsSink(server, storage, log);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => sink.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  open(target: SinkTarget): SinkSession {
    const token = crypto.randomBytes(16).toString('hex');
    const session: OpenSession = {
      target,
      pending: new Set(),
      arriving: new Map(),
      stored: new Set(),
      error: undefined,
      closed: false,
    };
    this.#sessions.set(token, session);
    const sessions = this.#sessions;
    return {
      baseUrl: `http://127.0.0.1:${this.port}/${token}`,
      failure: () => session.error,
      isStored: (p) => session.stored.has(p),
      async idle() {
        while (session.pending.size > 0) await Promise.allSettled([...session.pending]);
      },
      close() {
        session.closed = true;
        sessions.delete(token);
      },
    };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    const slash = url.indexOf('/', 1);
    const session = slash > 0 ? this.#sessions.get(url.slice(1, slash)) : undefined;
    const file = slash > 0 ? url.slice(slash + 1) : '';
    if (!session || session.closed) return answer(res, 404);
    // ffmpeg deletes nothing we keep; any other method is not ffmpeg.
    if (req.method === 'DELETE') return answer(res, 204);
    if ((req.method !== 'PUT' && req.method !== 'POST') || !PATH.test(file)) return answer(res, 400);
    const isPlaylist = file.endsWith('.m3u8');
    const work = isPlaylist ? this.playlist(session, file, req) : this.media(session, file, req);
    session.pending.add(work);
    if (!isPlaylist) {
      session.arriving.set(file, work);
      void work.then(
        () => session.stored.add(file),
        () => undefined,
      );
    }
    work.then(
      () => answer(res, 201),
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        // An aborted upload (ffmpeg stopped mid-segment) is not a failure of the run's output.
        if (!req.readableAborted && !session.error) {
          session.error = error;
          this.log?.warn('hls sink could not store a file', { file, err: error.message });
        }
        answer(res, 500);
      },
    );
    void work
      .finally(() => {
        session.pending.delete(work);
        if (session.arriving.get(file) === work) session.arriving.delete(file);
      })
      .catch(() => undefined);
  }

  private async media(session: OpenSession, file: string, req: http.IncomingMessage): Promise<void> {
    const isInit = file.endsWith('.mp4');
    const head: Buffer[] = [];
    let headBytes = 0;
    // Init sections are kept in part on the way through (their codec configuration is needed).
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        if (isInit && headBytes < HEAD_BYTES) {
          head.push(chunk);
          headBytes += chunk.length;
        }
        done(null, chunk);
      },
    });
    // An aborted request (ffmpeg killed mid-segment) errors the body, so the put fails and stores nothing.
    pipeline(req, tap).catch((err: unknown) =>
      tap.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    const { bytes } = await this.storage.putStream(`${session.target.prefix}/${file}`, tap);
    await session.target.onStored?.({
      path: file,
      bytes,
      head: isInit ? Buffer.concat(head).subarray(0, HEAD_BYTES) : undefined,
      finishedAtMs: Date.now(),
    });
  }

  private async playlist(session: OpenSession, file: string, req: http.IncomingMessage): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_PLAYLIST_BYTES)
        throw new Error(`playlist ${file} is larger than ${MAX_PLAYLIST_BYTES} bytes`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    // Wait for the listed files already on their way (their failure is reported by their own request).
    const listed = listedUris(text).map((uri) => dir + uri);
    await Promise.allSettled(listed.flatMap((p) => session.arriving.get(p) ?? []));
    await session.target.onPlaylist(file, text, (p) => session.stored.has(p));
  }
}

/** Relative URIs a media playlist names: the init section (EXT-X-MAP) and the segments. */
function listedUris(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    const map = /^#EXT-X-MAP:.*URI="([^"]+)"/.exec(trimmed);
    if (map) uris.push(map[1]!);
    else if (trimmed && !trimmed.startsWith('#')) uris.push(trimmed);
  }
  return uris;
}

function answer(res: http.ServerResponse, status: number): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Length': 0 });
  res.end();
}
