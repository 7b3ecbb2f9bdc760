/**
 * A minimal keep-alive HTTP/1.1 client connection for the viewer simulator: one TCP connection,
 * one request at a time (as a browser's connection), GET only. It reads the status line and the
 * few headers it needs (Content-Length, Transfer-Encoding: chunked, Connection, ETag, X-Cache),
 * counts body bytes without copying them (every connection of a thread reads into one shared
 * buffer: `onread`), keeps the body only when asked (playlists), and reports time to last byte.
 * fetch/undici would cost several times the CPU per request, and the simulator must leave the
 * machine's two cores to the servers it measures.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface Answer {
  status: number;
  /** Body bytes (after de-chunking). */
  bytes: number;
  /** Request written → last body byte read, ms. */
  ms: number;
  etag: string | undefined;
  /** The edge's X-Cache (its $upstream_cache_status), when present. */
  cache: string | undefined;
  /** The body as latin1 text, when `keepBody` asked for it. */
  body: string | undefined;
}

export interface Target {
  readonly host: string;
  readonly port: number;
  /** Source address of the connection (spreads ports over several loopback addresses). */
  readonly localAddress?: string;
}

/** Called once per request: an error (connection lost, bad answer, timeout) or the answer. */
export type Done = (err: Error | undefined, answer: Answer) => void;

const enum State {
  Idle,
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
}

const CRLF = 0x0a;
const MAX_HEAD = 64 * 1024;

export interface ConnectionCounters {
  connects: number;
  /** A reused keep-alive connection the server had closed: the request went out again, as browsers do. */
  silentRetries: number;
}

export class KeepAliveConnection {
  #socket: net.Socket | undefined;
  #state = State.Idle;
  #path = '';
  #done: Done | undefined;
  #keepBody: ((etag: string | undefined) => boolean) | undefined;
  #sentAt = 0;
  #served = 0;
  #receivedForRequest = 0;
  #retried = false;
  // The answer being read.
  #status = 0;
  #remaining = 0;
  #bytes = 0;
  #etag: string | undefined;
  #cache: string | undefined;
  #body: string | undefined;
  #closeAfter = false;
  #chunked = false;
  #pending: Buffer | undefined;
  #line = '';

  constructor(
    readonly target: Target,
    readonly readBuffer: Buffer,
    readonly counters: ConnectionCounters,
  ) {}

  get busy(): boolean {
    return this.#done !== undefined;
  }

  /** When the request in flight was written (performance.now()), 0 when idle. */
  get sentAt(): number {
    return this.#done ? this.#sentAt : 0;
  }

  /**
   * Sends `GET path`. `keepBody(etag)` says, once the headers are in, whether to keep the body
   * (a playlist not seen before); `done` gets the answer or the error.
   */
  request(path: string, keepBody: ((etag: string | undefined) => boolean) | undefined, done: Done): void {
    if (this.#done) throw new Error('one request at a time on a connection');
    this.#path = path;
    this.#keepBody = keepBody;
    this.#done = done;
    this.#retried = false;
    this.#send();
  }

  /** Ends the connection; a request in flight fails with `reason`. */
  destroy(reason?: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
    if (reason) this.#fail(reason);
  }

  #send(): void {
    this.#state = State.Head;
    this.#receivedForRequest = 0;
    this.#pending = undefined;
    const socket = this.#socket ?? this.#connect();
    this.#sentAt = performance.now();
    socket.write(`GET ${this.#path} HTTP/1.1\r\nHost: ${this.target.host}:${this.target.port}\r\n\r\n`);
  }

  #connect(): net.Socket {
    this.counters.connects += 1;
    this.#served = 0;
    const socket = net.connect({
      host: this.target.host,
      port: this.target.port,
      ...(this.target.localAddress ? { localAddress: this.target.localAddress } : {}),
      noDelay: true,
      onread: {
        buffer: this.readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          if (this.#socket === socket) this.#feed(buf as Buffer, 0, n);
          return true;
        },
      },
    });
    socket.on('error', (err) => {
      if (this.#socket === socket) this.#lost(err);
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#lost(new Error('connection closed by the server'));
    });
    this.#socket = socket;
    return socket;
  }

  #lost(err: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
    if (!this.#done) return;
    // The server closed an idle keep-alive connection just as the request went out: a browser
    // sends it again on a new connection without telling anyone.
    if (this.#served > 0 && this.#receivedForRequest === 0 && !this.#retried) {
      this.#retried = true;
      this.counters.silentRetries += 1;
      this.#send();
      return;
    }
    this.#fail(err);
  }

  #fail(err: Error): void {
    const done = this.#done;
    this.#done = undefined;
    this.#state = State.Idle;
    done?.(err, this.#answer());
  }

  #answer(): Answer {
    return {
      status: this.#status,
      bytes: this.#bytes,
      ms: performance.now() - this.#sentAt,
      etag: this.#etag,
      cache: this.#cache,
      body: this.#body,
    };
  }

  #finish(): void {
    const done = this.#done;
    this.#done = undefined;
    this.#state = State.Idle;
    this.#served += 1;
    const answer = this.#answer();
    if (this.#closeAfter) this.destroy();
    done?.(undefined, answer);
  }

  #protocolError(what: string): void {
    this.destroy(new Error(`bad answer to GET ${this.#path}: ${what}`));
  }

  #feed(data: Buffer, start: number, end: number): void {
    this.#receivedForRequest += end - start;
    while (start < end) {
      switch (this.#state) {
        case State.Idle:
          return this.#protocolError('bytes after the answer');
        case State.Head: {
          let src = data;
          let s = start;
          let e = end;
          if (this.#pending) {
            src = Buffer.concat([this.#pending, data.subarray(start, end)]);
            s = 0;
            e = src.length;
            this.#pending = undefined;
          }
          const at = src.subarray(s, e).indexOf('\r\n\r\n');
          if (at < 0) {
            if (e - s > MAX_HEAD) return this.#protocolError('header too long');
            this.#pending = Buffer.from(src.subarray(s, e));
            return;
          }
          const next = this.#readHead(src.toString('latin1', s, s + at));
          if (next === State.Idle) return; // refused: the connection is gone
          data = src;
          start = s + at + 4;
          end = e;
          if (next === State.Body && this.#remaining === 0) this.#finish();
          break;
        }
        case State.Body: {
          const take = Math.min(this.#remaining, end - start);
          this.#bytes += take;
          if (this.#body !== undefined) this.#body += data.toString('latin1', start, start + take);
          start += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#finish();
          break;
        }
        case State.ChunkSize:
        case State.ChunkEnd:
        case State.Trailers: {
          const nl = data.indexOf(CRLF, start);
          const stop = nl < 0 || nl >= end ? end : nl + 1;
          this.#line += data.toString('latin1', start, stop);
          start = stop;
          if (!this.#line.endsWith('\n')) {
            if (this.#line.length > 1024) return this.#protocolError('chunk line too long');
            break;
          }
          const line = this.#line.trim();
          this.#line = '';
          if (this.#state === State.ChunkEnd) {
            if (line !== '') return this.#protocolError('no CRLF after a chunk');
            this.#state = State.ChunkSize;
          } else if (this.#state === State.Trailers) {
            if (line === '') this.#finish();
          } else {
            const size = parseInt(line, 16);
            if (!Number.isFinite(size) || size < 0) return this.#protocolError('bad chunk size');
            this.#remaining = size;
            this.#state = size === 0 ? State.Trailers : State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.#remaining, end - start);
          this.#bytes += take;
          if (this.#body !== undefined) this.#body += data.toString('latin1', start, start + take);
          start += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.ChunkEnd;
          break;
        }
      }
    }
  }

  /** Reads the status line and headers; returns the state the answer's body is read in. */
  #readHead(head: string): State {
    // "HTTP/1.1 200 OK"
    this.#status = Number(head.slice(9, 12));
    this.#bytes = 0;
    this.#etag = undefined;
    this.#cache = undefined;
    this.#body = undefined;
    this.#closeAfter = false;
    this.#chunked = false;
    let length = -1;
    let from = head.indexOf('\n') + 1;
    while (from > 0 && from < head.length) {
      const nl = head.indexOf('\n', from);
      const stop = nl < 0 ? head.length : nl;
      const colon = head.indexOf(':', from);
      if (colon > from && colon < stop) {
        const name = head.slice(from, colon).toLowerCase();
        const value = head.slice(colon + 1, stop).trim();
        if (name === 'content-length') length = Number(value);
        else if (name === 'transfer-encoding') this.#chunked = value.toLowerCase().includes('chunked');
        else if (name === 'connection') this.#closeAfter = value.toLowerCase() === 'close';
        else if (name === 'etag') this.#etag = value;
        else if (name === 'x-cache') this.#cache = value;
      }
      from = stop + 1;
    }
    if (!(this.#status >= 100 && this.#status < 600)) {
      this.#protocolError('no status line');
      return State.Idle;
    }
    if (this.#keepBody?.(this.#etag)) this.#body = '';
    if (this.#chunked) {
      this.#line = '';
      return (this.#state = State.ChunkSize);
    }
    if (length >= 0) {
      this.#remaining = length;
      return (this.#state = State.Body);
    }
    // Neither: the body runs to the end of the connection (HTTP/1.0 style); not worth supporting.
    this.#protocolError('an answer without Content-Length or chunked encoding');
    return State.Idle;
  }
}
