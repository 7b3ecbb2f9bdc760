import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { RTCPeerConnection, RTCRtpCodecParameters, RTCRtpTransceiver, MediaStreamTrack } from 'werift';
import {
  AUDIO_PT,
  VIDEO_PT,
  bridgePorts,
  bridgeSdp,
  chooseCodecs,
  filterAnswerCandidates,
  parseOfferMedia,
  parseTrickleFragment,
  whipBridgeArgs,
  type CodecPick,
  type OfferedCodec,
} from '../../pipelines/whip-sdp.ts';
import { spawnFfmpeg } from '../media/ffmpeg.ts';
import type { Logger } from '../log.ts';
import { whipStatus, type Admission, type Admit } from './admission.ts';
import { redactStreamKeys } from './rtmp-ingest.ts';

/**
 * WHIP ingest (RFC 9725): a browser or encoder POSTs an SDP offer with its stream key as bearer
 * token; once `admit` accepts, werift terminates WebRTC here and forwards the RTP over loopback UDP
 * to a per-session *bridge* ffmpeg, which re-encodes it and publishes it to the local RTMP ingest
 * (see docs/design/srt-whip-ingest.md §B). The key is checked before any media is accepted and is
 * never kept: sessions hold only its hash, for DELETE/PATCH.
 *
 * PATCH supports trickle ICE (RFC 8840 fragments) but not ICE restarts (422, RFC 9725 §4.3.1).
 */

export interface WhipServerOptions {
  port: number;
  host: string;
  admit: Admit;
  log: Logger;
  ffmpegPath?: string;
  /** UDP ports werift may bind (one per host address per session). */
  udpPortRange?: readonly [number, number];
  /** Advertised as a host candidate (1:1 NAT or a forwarded range); then the only one advertised. */
  publicIp?: string;
  /** Adds 127.0.0.1 as a host candidate (werift leaves loopback out): tests and same-host publishers. */
  allowLoopback?: boolean;
  /** Concurrent sessions (including those being set up); beyond it, 503. Default 32. */
  maxSessions?: number;
  /** The bridge's constant output frame rate (default 30) and GOP (default 2 s of frames). */
  fps?: number;
  gopFrames?: number;
  /** The bridge's output picture (default 1280×720). */
  width?: number;
  height?: number;
  x264Preset?: string;
  /** ICE+DTLS must connect within this (default 15 s). */
  connectTimeoutMs?: number;
  /** No RTP for this long is a drop (default 5 s). */
  rtpTimeoutMs?: number;
  /** Keyframe requests: at start and then this often (default 2 s; Chromium sends keyframes only on request). */
  pliIntervalMs?: number;
}

export interface WhipServer {
  readonly port: number;
  /** The WHIP endpoint URL. */
  readonly url: string;
  stop(): Promise<void>;
  /** Sessions open or being set up. */
  sessions(): number;
}

const MAX_BODY = 64 * 1024;
const ENDPOINT = '/whip/endpoint';
const SESSION_PREFIX = '/whip/session/';
const CORS: Record<string, string> = {
  // The bearer token is sent explicitly, never as a cookie, so any origin may call.
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
  'Access-Control-Expose-Headers': 'Location, ETag, Link, Accept-Patch',
};
const SDPFRAG = 'application/trickle-ice-sdpfrag';

/**
 * werift test-binds a port and closes it, then binds it for real with no error listener: two peer
 * connections gathering at once can crash the process with EADDRINUSE. One gathering at a time,
 * process-wide.
 */
let gatherGate: Promise<unknown> = Promise.resolve();
function oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
  const run = gatherGate.then(fn, fn);
  gatherGate = run.catch(() => undefined);
  return run;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function lastLines(text: string): string {
  return redactStreamKeys(text.trim().split('\n').slice(-5).join('\n'));
}

function keyHash(key: string): Buffer {
  return crypto.createHash('sha256').update(key).digest();
}

function bearer(req: http.IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'The body is too large.'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function remoteIp(req: http.IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Four consecutive free loopback UDP ports starting at an even one (RTP/RTCP video, then audio). */
async function reserveBridgePorts(taken: Set<number>): Promise<number> {
  const bind = (port: number) =>
    new Promise<dgram.Socket | undefined>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(undefined);
      });
      s.bind(port, '127.0.0.1', () => resolve(s));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bind(0);
    if (!first) continue;
    const base = first.address().port;
    const sockets = [first];
    if (base % 2 === 0 && base + 3 <= 65535 && ![0, 1, 2, 3].some((i) => taken.has(base + i))) {
      for (let i = 1; i < 4; i++) {
        const s = await bind(base + i);
        if (!s) break;
        sockets.push(s);
      }
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (sockets.length === 4) return base;
  }
  throw new Error('no free UDP ports for the bridge');
}

type Werift = typeof import('werift');
let werift: Promise<Werift> | undefined;
/**
 * werift is loaded at the first WHIP session, not with the ingest: it costs about a second of CPU
 * to load, paid at every start of every ingest otherwise (and most never see a browser).
 */
function loadWerift(): Promise<Werift> {
  return (werift ??= import('werift'));
}

function weriftCodec(
  { RTCRtpCodecParameters }: Werift,
  kind: 'video' | 'audio',
  c: OfferedCodec,
): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: `${kind}/${c.name}`,
    clockRate: c.clockRate,
    payloadType: c.payloadType,
    rtcpFeedback: c.feedback.map((f) => {
      const [type = '', parameter] = f.split(' ');
      return parameter === undefined ? { type } : { type, parameter };
    }),
    ...(c.channels === undefined ? {} : { channels: c.channels }),
    ...(c.fmtp ? { parameters: c.fmtp } : {}),
  });
}

interface Bridge {
  readonly child: ReturnType<typeof spawnFfmpeg>;
  readonly exited: Promise<void>;
}

class WhipSession {
  readonly id = crypto.randomBytes(16).toString('hex');
  readonly etag = `"${crypto.randomBytes(8).toString('hex')}"`;
  readonly startedAt = Date.now();
  pc?: RTCPeerConnection;
  bridge?: Bridge;
  admission?: Admission;
  remoteUfrag?: string;
  basePort?: number;
  tmpDir?: string;
  lastRtpAt = 0;
  /** Forwarded to the bridge, and keyframe requests sent: logged when the session ends. */
  readonly counts = { rtp: 0, senderReports: 0, pli: 0 };
  bridgeStderr = '';
  connected = false;
  closing?: Promise<void>;
  readonly timers: NodeJS.Timeout[] = [];
  readonly forward = dgram.createSocket('udp4');
  readonly log: Logger;

  constructor(
    readonly keyHash: Buffer,
    log: Logger,
  ) {
    this.log = log.child({ whipSession: this.id.slice(0, 8) });
    this.forward.on('error', (err) => this.log.warn('whip forward socket', { err: String(err) }));
  }
}

export async function startWhipServer(opts: WhipServerOptions): Promise<WhipServer> {
  const log = opts.log;
  const ffmpegPath = opts.ffmpegPath ?? 'ffmpeg';
  const maxSessions = opts.maxSessions ?? 32;
  const fps = opts.fps ?? 30;
  const gopFrames = opts.gopFrames ?? fps * 2;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  const rtpTimeoutMs = opts.rtpTimeoutMs ?? 5_000;
  const pliIntervalMs = opts.pliIntervalMs ?? 2_000;
  const sessions = new Map<string, WhipSession>();
  /** Sessions being set up (admitted or not yet) plus open ones: what maxSessions bounds. */
  let active = 0;
  const reservedPorts = new Set<number>();
  let stopping = false;

  const hostAddresses = [
    ...(opts.publicIp ? [opts.publicIp] : []),
    ...(opts.allowLoopback ? ['127.0.0.1'] : []),
  ];

  function close(session: WhipSession, stopped: boolean, why: string): Promise<void> {
    // Set before any teardown step runs: closing the peer connection fires its state events
    // synchronously, and they must see this session as closing already.
    session.closing ??= Promise.resolve().then(async () => {
      session.log.info('whip session ending', { why, stopped, ...session.counts });
      for (const t of session.timers) clearTimeout(t);
      sessions.delete(session.id);
      // The bridge first, while RTP still reaches it: ffmpeg notices SIGINT between packets.
      if (session.bridge) {
        const t0 = Date.now();
        await stopBridge(session.bridge);
        const { exitCode, signalCode } = session.bridge.child;
        session.log.debug('whip bridge stopped', {
          ms: Date.now() - t0,
          exitCode,
          signalCode,
          stderr: lastLines(session.bridgeStderr),
        });
      }
      try {
        await session.pc?.close();
      } catch (err) {
        session.log.warn('whip peer connection close failed', { err: String(err) });
      }
      session.forward.close();
      if (session.basePort !== undefined)
        for (let i = 0; i < 4; i++) reservedPorts.delete(session.basePort + i);
      if (session.tmpDir) fs.rmSync(session.tmpDir, { recursive: true, force: true });
      active--;
      session.admission?.end({ stopped });
    });
    return session.closing;
  }

  async function stopBridge(bridge: Bridge): Promise<void> {
    const { child } = bridge;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      await bridge.exited;
      clearTimeout(kill);
    }
  }

  function startBridge(session: WhipSession, pick: CodecPick, rtmpUrl: string, sdpPath: string): Bridge {
    const args = whipBridgeArgs({
      sdpPath,
      rtmpUrl,
      fps,
      gopFrames,
      width: opts.width ?? 1280,
      height: opts.height ?? 720,
      audio: pick.audio !== undefined,
      ...(opts.x264Preset ? { x264Preset: opts.x264Preset } : {}),
    });
    const child = spawnFfmpeg(ffmpegPath, args);
    child.stdout.resume();
    child.stderr.setEncoding('utf8');
    child.stderr.on(
      'data',
      (chunk: string) => (session.bridgeStderr = (session.bridgeStderr + chunk).slice(-4000)),
    );
    const exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        session.log.error('whip bridge did not start', { err: String(err) });
        resolve();
      });
      child.once('close', (code, signal) => {
        resolve();
        if (session.closing) return;
        session.log.warn('whip bridge exited', {
          code,
          signal,
          stderr: lastLines(session.bridgeStderr),
        });
        void close(session, false, 'bridge exited');
      });
    });
    return { child, exited };
  }

  /** Forwards one track's RTP (payload type rewritten) and its sender reports to the bridge. */
  function forwardTrack(
    session: WhipSession,
    transceiver: RTCRtpTransceiver,
    track: MediaStreamTrack,
    from: OfferedCodec,
    to: number,
    port: number,
  ): void {
    let pliTimer: NodeJS.Timeout | undefined;
    track.onReceiveRtp.subscribe((rtp) => {
      session.lastRtpAt = Date.now();
      if (rtp.header.payloadType !== from.payloadType) return;
      const buf = rtp.serialize();
      buf[1] = ((buf[1] ?? 0) & 0x80) | to; // keep the marker bit
      session.forward.send(buf, port, '127.0.0.1');
      session.counts.rtp++;
      if (track.kind === 'video' && !pliTimer && !session.closing) {
        const ssrc = rtp.header.ssrc;
        const pli = () => {
          session.counts.pli++;
          void transceiver.receiver.sendRtcpPLI(ssrc);
        };
        pli();
        pliTimer = setInterval(pli, pliIntervalMs);
        session.timers.push(pliTimer);
      }
    });
  }

  function wireMedia(
    { RtcpSrPacket }: Werift,
    session: WhipSession,
    pc: RTCPeerConnection,
    pick: CodecPick,
    basePort: number,
  ): void {
    const ports = bridgePorts(basePort);
    const subscribed = new Set<MediaStreamTrack>();
    for (const t of pc.getTransceivers()) {
      const video = t.kind === 'video';
      const from = video ? pick.video : pick.audio;
      if (!from) continue;
      const to = video ? VIDEO_PT : AUDIO_PT;
      const port = video ? ports.video : ports.audio;
      const rtcpPort = video ? ports.videoRtcp : ports.audioRtcp;
      const add = (track: MediaStreamTrack) => {
        if (subscribed.has(track)) return;
        subscribed.add(track);
        forwardTrack(session, t, track, from, to, port);
      };
      for (const track of t.receiver.tracks) add(track);
      t.onTrack.subscribe((track) => add(track));
      // Sender reports map RTP time to wall clock: without them ffmpeg starts each stream at its own first packet.
      t.receiver.onRtcp.subscribe((packet) => {
        if (packet.type !== RtcpSrPacket.type) return;
        session.forward.send(packet.serialize(), rtcpPort, '127.0.0.1');
        session.counts.senderReports++;
      });
    }
  }

  /** The answer, after the offer is admitted. Throws HttpError 400 for offers werift refuses. */
  async function setUp(session: WhipSession, offer: string, pick: CodecPick): Promise<string> {
    const admission = session.admission;
    if (!admission) throw new Error('not admitted');
    const w = await loadWerift();
    const { useAbsSendTime, useH264, useOPUS, useSdesMid, useTransportWideCC, useVP8 } = w;
    const pc = new w.RTCPeerConnection({
      iceServers: [],
      iceUseIpv6: false,
      bundlePolicy: 'max-bundle',
      codecs: { video: [useH264(), useVP8()], audio: [useOPUS()] },
      headerExtensions: {
        video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()],
        audio: [useSdesMid(), useTransportWideCC()],
      },
      ...(opts.udpPortRange ? { icePortRange: [opts.udpPortRange[0], opts.udpPortRange[1]] } : {}),
      ...(hostAddresses.length > 0 ? { iceAdditionalHostAddresses: hostAddresses } : {}),
    });
    session.pc = pc;
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        session.connected = true;
        session.lastRtpAt = Date.now();
      } else if ((state === 'failed' || state === 'closed') && !session.closing) {
        void close(session, false, `connection ${state}`);
      }
    });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    } catch (err) {
      throw new HttpError(400, `The offer was not accepted: ${String(err)}`);
    }
    for (const t of pc.getTransceivers()) {
      t.setDirection('recvonly');
      const chosen = t.kind === 'video' ? pick.video : pick.audio;
      // werift answers with every offered codec of a known name, in the offer's order, and the
      // browser sends the first: answer with exactly the chosen one.
      if (chosen && (t.kind === 'video' || t.kind === 'audio')) t.codecs = [weriftCodec(w, t.kind, chosen)];
      else t.setDirection('inactive');
    }
    const answer = await pc.createAnswer();
    await oneAtATime(() => pc.setLocalDescription(answer));
    const local = pc.localDescription?.sdp;
    if (!local) throw new Error('no local description');

    // The bridge listens before any RTP can arrive (the publisher has not seen the answer yet).
    session.basePort = await reserveBridgePorts(reservedPorts);
    for (let i = 0; i < 4; i++) reservedPorts.add(session.basePort + i);
    session.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-whip-'));
    const sdpPath = path.join(session.tmpDir, 'in.sdp');
    fs.writeFileSync(sdpPath, bridgeSdp(pick, session.basePort), { mode: 0o600 });
    wireMedia(w, session, pc, pick, session.basePort);
    session.bridge = startBridge(session, pick, admission.rtmpUrl, sdpPath);

    session.timers.push(
      setTimeout(() => {
        if (!session.connected) void close(session, false, 'ICE/DTLS did not connect');
      }, connectTimeoutMs),
      setInterval(
        () => {
          if (session.connected && Date.now() - session.lastRtpAt > rtpTimeoutMs) {
            void close(session, false, 'no media');
          }
        },
        Math.min(1000, rtpTimeoutMs),
      ),
    );
    return opts.publicIp ? filterAnswerCandidates(local, (a) => hostAddresses.includes(a)) : local;
  }

  async function createSession(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const key = bearer(req);
    if (!key) throw new HttpError(401, 'A stream key is required (Authorization: Bearer).', bearerChallenge);
    if (mediaType(req) !== 'application/sdp') throw new HttpError(415, 'The offer must be application/sdp.');
    const offer = await readBody(req);
    if (active >= maxSessions) throw new HttpError(503, 'Too many sessions; try again later.');
    const choice = chooseCodecs(parseOfferMedia(offer));
    if (!choice.ok) throw new HttpError(400, choice.reason);
    const { video, audio } = choice;
    const pick: CodecPick = audio ? { video, audio } : { video };

    active++;
    const session = new WhipSession(keyHash(key), log);
    let decision;
    try {
      decision = await opts.admit(key, remoteIp(req), 'whip');
    } catch (err) {
      active--;
      session.forward.close();
      log.error('whip admission failed', { err: String(err) });
      throw new HttpError(503, 'The server could not check the stream key; try again.');
    }
    if (!decision.ok) {
      active--;
      session.forward.close();
      log.info('whip publish refused', { ip: remoteIp(req), code: decision.code });
      throw new HttpError(
        whipStatus(decision.code),
        decision.reason,
        decision.code === 'unknown_key' ? bearerChallenge : {},
      );
    }
    session.admission = decision;
    session.remoteUfrag = /^a=ice-ufrag:(\S+)/m.exec(offer)?.[1];
    sessions.set(session.id, session);
    let answer: string;
    try {
      answer = await setUp(session, offer, pick);
    } catch (err) {
      await close(session, false, 'set-up failed');
      if (err instanceof HttpError) throw err;
      log.error('whip set-up failed', { err: String(err) });
      throw new HttpError(500, 'The session could not be set up.');
    }
    if (session.closing || stopping) {
      await close(session, false, 'ended during set-up');
      throw new HttpError(503, 'The session ended during set-up.');
    }
    session.log.info('whip session started', { eventId: decision.eventId, ip: remoteIp(req) });
    res.writeHead(201, {
      ...CORS,
      'Content-Type': 'application/sdp',
      Location: `${SESSION_PREFIX}${session.id}`,
      ETag: session.etag,
      'Accept-Patch': SDPFRAG,
    });
    res.end(answer);
  }

  const bearerChallenge = { 'WWW-Authenticate': 'Bearer' };

  /** The session a DELETE/PATCH names, if the same bearer created it. */
  function ownedSession(req: http.IncomingMessage, id: string): WhipSession {
    const key = bearer(req);
    if (!key) throw new HttpError(401, 'A stream key is required (Authorization: Bearer).', bearerChallenge);
    const session = sessions.get(id);
    if (!session || session.closing) throw new HttpError(404, 'No such session.');
    if (!crypto.timingSafeEqual(keyHash(key), session.keyHash)) {
      throw new HttpError(401, 'This stream key did not create the session.', bearerChallenge);
    }
    return session;
  }

  async function patchSession(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    id: string,
  ): Promise<void> {
    const session = ownedSession(req, id);
    if (mediaType(req) !== SDPFRAG) throw new HttpError(415, `PATCH takes ${SDPFRAG}.`);
    const ifMatch = req.headers['if-match'];
    const body = await readBody(req);
    const frag = parseTrickleFragment(body);
    if (ifMatch === '*' || (frag.ufrag !== undefined && frag.ufrag !== session.remoteUfrag)) {
      // RFC 9725 §4.3.1: trickle yes, restart no → 422 for the one not supported.
      throw new HttpError(422, 'ICE restarts are not supported; start a new session.');
    }
    if (ifMatch !== undefined && ifMatch !== session.etag)
      throw new HttpError(412, 'The ETag does not match.');
    for (const c of frag.candidates) {
      try {
        await session.pc?.addIceCandidate({
          candidate: c.candidate,
          ...(c.sdpMid === undefined ? {} : { sdpMid: c.sdpMid }),
          ...(c.sdpMLineIndex === undefined ? {} : { sdpMLineIndex: c.sdpMLineIndex }),
        });
      } catch (err) {
        throw new HttpError(400, `A candidate was not accepted: ${String(err)}`);
      }
    }
    res.writeHead(204, { ...CORS, ETag: session.etag }).end();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://whip');
    const method = req.method ?? 'GET';
    if (url.pathname === ENDPOINT) {
      if (method === 'OPTIONS') return preflight(res, 'POST, OPTIONS');
      if (method !== 'POST') throw new HttpError(405, 'Use POST.', { Allow: 'POST, OPTIONS' });
      if (stopping) throw new HttpError(503, 'The server is shutting down.');
      return createSession(req, res);
    }
    if (url.pathname.startsWith(SESSION_PREFIX)) {
      const id = url.pathname.slice(SESSION_PREFIX.length);
      if (!/^[0-9a-f]{32}$/.test(id)) throw new HttpError(404, 'No such session.');
      if (method === 'OPTIONS') return preflight(res, 'PATCH, DELETE, OPTIONS');
      if (method === 'DELETE') {
        const session = ownedSession(req, id);
        await close(session, true, 'DELETE');
        res.writeHead(200, CORS).end();
        return;
      }
      if (method === 'PATCH') return patchSession(req, res, id);
      throw new HttpError(405, 'Use PATCH or DELETE.', { Allow: 'PATCH, DELETE, OPTIONS' });
    }
    throw new HttpError(404, 'Not found.');
  }

  function preflight(res: http.ServerResponse, allow: string): void {
    res
      .writeHead(204, {
        ...CORS,
        'Access-Control-Allow-Methods': allow,
        'Access-Control-Max-Age': '600',
        'Accept-Post': 'application/sdp',
      })
      .end();
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'Internal error.');
      if (!(err instanceof HttpError)) log.error('whip request failed', { err: String(err) });
      if (res.headersSent) return void res.end();
      // The body may still be arriving (refused before reading it): close the connection after.
      res.writeHead(e.status, {
        ...CORS,
        ...e.headers,
        'Content-Type': 'text/plain; charset=utf-8',
        ...(req.complete ? {} : { Connection: 'close' }),
      });
      res.end(e.message);
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  log.info('whip ingest listening', { port });

  return {
    port,
    url: `http://${urlHost}:${port}${ENDPOINT}`,
    sessions: () => active,
    async stop() {
      stopping = true;
      await Promise.all([...sessions.values()].map((s) => close(s, false, 'server stopping')));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
