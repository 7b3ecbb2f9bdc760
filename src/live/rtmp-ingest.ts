import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import querystring from 'node:querystring';
import type { Logger } from '../log.ts';

/**
 * node-media-server 4 as onair's RTMP ingest. The library is plain JS without types; this is the
 * only module that touches it. Two changes to its behaviour, both at the protocol level:
 *
 * - The publish check runs before the server answers `NetStream.Publish.Start`. The library emits
 *   `prePublish` only after that answer, and a real OBS keeps streaming into a half-closed session
 *   when refused later; refused here, OBS gets `NetStream.Publish.BadName` and stops.
 * - `deleteStream` (what encoders send on "Stop streaming") is reported, so a deliberate stop ends
 *   the event at once while a dropped connection gets the reconnect grace period.
 *
 * Plays are only allowed with a signed URL (the workers' pulls); the library's web admin, HTTP
 * server and recorder stay off, and its log lines have the stream key removed.
 */
const require = createRequire(import.meta.url);

interface NmsSession {
  id: string;
  ip: string;
  streamApp: string;
  streamName: string;
  streamPath: string;
  inBytes: number;
  rtmp?: RtmpProtocol;
  socket?: { end(): void; destroy(): void };
  broadcast?: { publishGraceMs: number };
}

interface RtmpProtocol {
  streamApp: string;
  streamName: string;
  streamHost: string;
  streamQuery: querystring.ParsedUrlQuery;
  streamId: number;
  parserPacket: { header: { stream_id: number } };
  respondPublish(): void;
  sendStatusMessage(streamId: number, level: string, code: string, description: string): void;
  onConnectCallback(req: {
    app: string;
    name: string;
    host: string;
    query: querystring.ParsedUrlQuery;
  }): void;
  onPushCallback(): void;
}

interface RtmpProtocolClass {
  prototype: RtmpProtocol & {
    onPublish(msg: { streamName?: string }): void;
    onDeleteStream(msg: unknown): void;
  };
}

interface NmsInstance {
  on(event: string, listener: (session: NmsSession) => void): void;
  run(): Promise<void>;
  stop(): Promise<void>;
  rtmpServer: { tcpServer?: import('node:net').Server };
}

export interface IngestHooks {
  /** Decides a publish before it is acknowledged. Return a reason to refuse. */
  authorize(
    app: string,
    streamKey: string,
    ip: string,
  ): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** An accepted publisher's session is up (after the acknowledgement). */
  started(session: IngestSession): void;
  /** The encoder sent deleteStream: the presenter stopped on purpose. */
  stopped(session: IngestSession): void;
  /** The publisher's connection is gone (after `stopped`, or a drop). */
  closed(session: IngestSession): void;
}

/** A live publisher connection, as onair sees it. */
export interface IngestSession {
  readonly id: string;
  readonly streamKey: string;
  readonly ip: string;
  /** Bytes received from the encoder so far. */
  inBytes(): number;
  /** Cuts the connection (event ended, key disabled). */
  disconnect(): void;
}

export interface RtmpIngestOptions {
  port: number;
  host: string;
  /** Signs the workers' pull URLs (the library's `auth.play`). */
  playSecret: string;
  dataDir: string;
  log: Logger;
  hooks: IngestHooks;
}

export const RTMP_APP = 'live';

/** Stream keys live in RTMP paths (`/live/<key>`); nothing that logs may keep them. */
export function redactStreamKeys(text: string): string {
  return text.replace(/\/live\/[^\s?,'":]+(\?[^\s'":]*)?/g, '/live/<key>');
}

let patchedHooks: IngestHooks | undefined;

function findSession(rtmp: RtmpProtocol): NmsSession | undefined {
  const Context = require('node-media-server/src/core/context.js') as { sessions: Map<string, NmsSession> };
  for (const session of Context.sessions.values()) if (session.rtmp === rtmp) return session;
  return undefined;
}

function patchProtocol(log: Logger): void {
  const Rtmp = require('node-media-server/src/protocol/rtmp.js') as RtmpProtocolClass;
  if (patchedHooks) return;
  Rtmp.prototype.onPublish = function onPublish(this: RtmpProtocol, msg: { streamName?: string }) {
    const [name = '', query = ''] = String(msg.streamName ?? '').split('?');
    const streamId = this.parserPacket.header.stream_id;
    const session = findSession(this);
    const ip = session?.ip ?? '';
    const refuse = (reason: string) => {
      this.sendStatusMessage(streamId, 'error', 'NetStream.Publish.BadName', reason);
      // Let the refusal reach the encoder, then close; destroy whatever ignores the close.
      setTimeout(() => session?.socket?.end(), 100).unref();
      setTimeout(() => session?.socket?.destroy(), 2000).unref();
    };
    const hooks = patchedHooks;
    if (!hooks) return refuse('ingest is shutting down');
    hooks.authorize(this.streamApp, name, ip).then(
      (decision) => {
        if (!decision.ok) {
          log.info('publish refused', { ip, reason: decision.reason });
          return refuse(decision.reason);
        }
        this.streamName = name;
        this.streamQuery = querystring.parse(query);
        this.streamId = streamId;
        this.respondPublish();
        this.onConnectCallback({ app: this.streamApp, name, host: this.streamHost, query: this.streamQuery });
        this.onPushCallback();
      },
      (err: unknown) => {
        log.error('publish check failed', { err: String(err) });
        refuse('The server could not check the stream key; try again.');
      },
    );
  };
  Rtmp.prototype.onDeleteStream = function onDeleteStream(this: RtmpProtocol) {
    const session = findSession(this);
    if (session && patchedHooks) patchedHooks.stopped(toIngestSession(session));
  };
}

function toIngestSession(session: NmsSession): IngestSession {
  return {
    id: session.id,
    streamKey: session.streamName,
    ip: session.ip,
    inBytes: () => session.inBytes,
    disconnect: () => session.socket?.destroy(),
  };
}

/** `rtmp://host:port/live/<key>?sign=<expires>-<md5>`: the library's signed-play format. */
export function signedPullUrl(
  host: string,
  port: number,
  streamKey: string,
  secret: string,
  ttlSeconds = 86_400,
): string {
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const streamPath = `/${RTMP_APP}/${streamKey}`;
  const hash = crypto.createHash('md5').update(`${streamPath}-${expires}-${secret}`).digest('hex');
  return `rtmp://${host}:${port}${streamPath}?sign=${expires}-${hash}`;
}

export interface RunningIngest {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startRtmpIngest(opts: RtmpIngestOptions): Promise<RunningIngest> {
  const NodeMediaServer = require('node-media-server') as new (config: object) => NmsInstance;
  const nmsLogger = require('node-media-server/src/core/logger.js') as {
    log: (message: string, level?: string) => void;
  };
  patchProtocol(opts.log);
  patchedHooks = opts.hooks;
  // Its logger prints stream paths, which contain the key: only warnings and errors, key removed.
  nmsLogger.log = (message: string, level = 'info') => {
    if (level !== 'warn' && level !== 'error') return;
    opts.log.warn('rtmp', { message: redactStreamKeys(message) });
  };
  const nms = new NodeMediaServer({
    bind: opts.host,
    rtmp: { port: opts.port, chunk_size: 60000, gop_cache: true, ping: 30, ping_timeout: 60 },
    auth: { play: true, publish: false, secret: opts.playSecret },
    store: { path: path.join(opts.dataDir, 'ingest') },
    webadmin: { enable: false },
  });

  const publishers = new Map<string, IngestSession>();
  nms.on('postPublish', (session) => {
    // The library keeps a dropped publish open for 30 s for the same address; onair has its own
    // grace period with a new period per connection, so it should end at once.
    if (session.broadcast) session.broadcast.publishGraceMs = 0;
    const ingest = toIngestSession(session);
    publishers.set(session.id, ingest);
    opts.hooks.started(ingest);
  });
  nms.on('donePublish', (session) => {
    const ingest = publishers.get(session.id);
    if (!ingest) return;
    publishers.delete(session.id);
    opts.hooks.closed(ingest);
  });

  await nms.run();
  const server = nms.rtmpServer.tcpServer;
  if (!server) throw new Error('RTMP server did not start');
  if (!server.listening) await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    port,
    async stop() {
      patchedHooks = undefined;
      for (const p of publishers.values()) p.disconnect();
      await nms.stop();
    },
  };
}
