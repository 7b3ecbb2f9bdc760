import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import querystring from 'node:querystring';
import { KeyframeCadence } from '../../pipelines/keyframe-cadence.ts';
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
 * The stream key is checked and then dropped: an accepted stream is published inside the ingest
 * under the name `authorize` gives (the event id), so the workers' pull URLs, their ffmpeg command
 * lines, the publisher record in Redis and the library's session data never carry the key. Plays
 * are only allowed with a signed URL (the workers' pulls); the library's web admin, HTTP server,
 * recorder and store (which wrote every publish's stream path and encoder address to a JSON file)
 * stay off, and its log lines have stream paths removed.
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
  /** The library's per-packet callback (the session's broadcast); wrapped to watch keyframes. */
  onPacketCallback: (packet: { codec_type: number; flags: number; dts: number }) => void;
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
  store?: { open?: () => Promise<void>; opened?: boolean };
}

export interface IngestHooks {
  /**
   * Decides a publish before it is acknowledged. Return a reason to refuse, or the name to
   * publish the stream under instead of its key (workers pull it by that name).
   */
  authorize(
    app: string,
    streamKey: string,
    ip: string,
  ): Promise<{ ok: true; streamName: string } | { ok: false; reason: string }>;
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
  /** What `authorize` named the stream (never the key). */
  readonly streamName: string;
  readonly ip: string;
  /** Bytes received from the encoder so far. */
  inBytes(): number;
  /** Seconds between the encoder's keyframes (undefined before the second one). */
  keyframeSeconds(): number | undefined;
  /** Cuts the connection (event ended, key disabled). */
  disconnect(): void;
}

export interface RtmpIngestOptions {
  port: number;
  host: string;
  /** Signs the workers' pull URLs (the library's `auth.play`). */
  playSecret: string;
  /** Only to remove the library's store an older onair kept under `DATA_DIR/ingest`. */
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

/** FLV video packets as the library parses them: codec_type 9, flags 3 for a keyframe. */
const FLV_VIDEO = 9;
const KEYFRAME = 3;
const cadences = new WeakMap<RtmpProtocol, KeyframeCadence>();

/** Watches the keyframes of an accepted publisher's stream, then hands each packet on as before. */
function watchKeyframes(rtmp: RtmpProtocol): void {
  const cadence = new KeyframeCadence();
  cadences.set(rtmp, cadence);
  const forward = rtmp.onPacketCallback;
  rtmp.onPacketCallback = (packet) => {
    if (packet.codec_type === FLV_VIDEO && packet.flags === KEYFRAME) cadence.add(packet.dts);
    forward(packet);
  };
}

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
        // From here on the stream is known by the name onair gave it; the key is not kept.
        this.streamName = decision.streamName;
        this.streamQuery = querystring.parse(query);
        this.streamId = streamId;
        watchKeyframes(this);
        this.respondPublish();
        this.onConnectCallback({
          app: this.streamApp,
          name: decision.streamName,
          host: this.streamHost,
          query: this.streamQuery,
        });
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
    streamName: session.streamName,
    ip: session.ip,
    inBytes: () => session.inBytes,
    keyframeSeconds: () => (session.rtmp ? cadences.get(session.rtmp)?.seconds() : undefined),
    disconnect: () => session.socket?.destroy(),
  };
}

/** The secret that signs pull URLs, derived so the ingest and workers agree without configuration. */
export function ingestPlaySecret(secret: string): string {
  return crypto.createHmac('sha256', secret).update('onair-ingest-play').digest('hex');
}

/**
 * `rtmp://host:port/live/<name>?sign=<expires>-<md5>`: the library's signed-play format. Built by
 * the worker just before it pulls, so a short life is enough (minutes, for clock skew between
 * machines); it is on ffmpeg's command line, which every local user can read.
 */
export function signedPullUrl(
  host: string,
  port: number,
  streamName: string,
  secret: string,
  ttlSeconds = 300,
): string {
  const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
  const streamPath = `/${RTMP_APP}/${streamName}`;
  const hash = crypto.createHash('md5').update(`${streamPath}-${expires}-${secret}`).digest('hex');
  return `rtmp://${host}:${port}${streamPath}?sign=${expires}-${hash}`;
}

export interface RunningIngest {
  readonly port: number;
  stop(): Promise<void>;
}

/** The reason the library's store does not open: it logs this, and only this is dropped from its log. */
const STORE_OFF = 'onair keeps no ingest store';

export async function startRtmpIngest(opts: RtmpIngestOptions): Promise<RunningIngest> {
  const NodeMediaServer = require('node-media-server') as new (config: object) => NmsInstance;
  // An older onair let the library keep its store here: stream keys and encoder addresses.
  fs.rmSync(path.join(opts.dataDir, 'ingest'), { recursive: true, force: true });
  const nmsLogger = require('node-media-server/src/core/logger.js') as {
    log: (message: string, level?: string) => void;
  };
  patchProtocol(opts.log);
  patchedHooks = opts.hooks;
  // Its logger prints stream paths, which contain the key: only warnings and errors, key removed.
  nmsLogger.log = (message: string, level = 'info') => {
    if (level !== 'warn' && level !== 'error') return;
    if (message.includes(STORE_OFF)) return;
    opts.log.warn('rtmp', { message: redactStreamKeys(message) });
  };
  const nms = new NodeMediaServer({
    bind: opts.host,
    rtmp: { port: opts.port, chunk_size: 60000, gop_cache: true, ping: 30, ping_timeout: 60 },
    auth: { play: true, publish: false, secret: opts.playSecret },
    webadmin: { enable: false },
  });
  // The library's store (relay tasks, recordings, and a history of every publish with its stream
  // path and encoder address) is of no use to onair: it must not open, and write, at all. `run()`
  // logs a failed open and goes on without it (no history, no recorder, no relays).
  if (typeof nms.store?.open !== 'function') {
    throw new Error('node-media-server changed: its store cannot be turned off; check rtmp-ingest.ts');
  }
  nms.store.open = () => Promise.reject(new Error(STORE_OFF));

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
  if (nms.store.opened) throw new Error('node-media-server opened its store anyway; check rtmp-ingest.ts');
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
