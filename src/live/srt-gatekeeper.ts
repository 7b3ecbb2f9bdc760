import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { srtBridgeArgs } from '../../pipelines/srt-bridge-args.ts';
import {
  buildInductionReply,
  buildInductionRequest,
  buildRejection,
  HS_CONCLUSION,
  HS_EXT,
  HS_INDUCTION,
  hasExtension,
  isShutdown,
  parseHandshake,
  parseStreamId,
  proposedLatencyMs,
  rejectionReason,
  SRT_REJECT,
  streamIdOf,
  withCookie,
  type Handshake,
} from '../../pipelines/srt-handshake.ts';
import type { Logger } from '../log.ts';
import { spawnFfmpeg } from '../media/ffmpeg.ts';
import { freeUdpPort } from '../net/free-ports.ts';
import { srtRejectCode, type Admission, type Admit } from './admission.ts';
import { redactStreamKeys } from './rtmp-ingest.ts';

/**
 * The public SRT port. It answers inductions itself (stateless cookie), reads the streamid of the
 * caller's conclusion and asks `admit` before anything else exists; a refusal is an SRT rejection in
 * the handshake. An admitted caller gets a bridge ffmpeg (SRT listener on loopback → RTMP ingest):
 * the gatekeeper runs its own induction against it, forwards the caller's conclusion with the
 * bridge's cookie, and then relays datagrams both ways untouched (so passphrase encryption stays end
 * to end). See docs/design/srt-whip-ingest.md §A1.
 */
export interface SrtGatekeeperOptions {
  port: number;
  host: string;
  admit: Admit;
  log: Logger;
  /** The bridge's latency floor in ms; the connection takes the larger of this and the caller's. */
  latencyMs: number;
  /** Callers being decided or relayed at once; more are refused (SRT_REJX_OVERLOAD). Default 64. */
  maxFlows?: number;
  ffmpegPath?: string;
  /** From admission until the bridge's SRT listener answers; then the caller is refused. */
  bridgeStartMs?: number;
}

export interface SrtGatekeeper {
  readonly port: number;
  stop(): Promise<void>;
  /** Callers being decided, bridged or relayed. */
  flows(): number;
}

/** libsrt callers resend their conclusion every 250 ms and give up after 3 s (connect_timeout). */
const POLL_MS = 50;
/** A refusal is repeated to the caller's retransmits for this long, then forgotten. */
const REFUSAL_MEMORY_MS = 10_000;
const MAX_REFUSALS = 4096;
/** After the bridge answered our induction, the handshake must complete within this. */
const CONNECT_MS = 5_000;
/** How long the bridge may take to finish after the caller's SHUTDOWN, and after SIGINT. */
const STOP_GRACE_MS = 3_000;
const STDERR_TAIL = 2_000;

type FlowState = 'deciding' | 'starting' | 'relaying' | 'closing';

interface Flow {
  state: FlowState;
  readonly ip: string;
  readonly port: number;
  readonly socketId: number;
  /** The caller's latest conclusion (forwarded to the bridge with the bridge's cookie). */
  conclusion: Uint8Array;
  readonly callerLatencyMs: number;
  admission?: Admission;
  bridge?: ChildProcess;
  bridgePort?: number;
  bridgeCookie?: number;
  inner?: dgram.Socket;
  /** The bridge answered the forwarded conclusion: caller and bridge are connected. */
  connected: boolean;
  /** The caller sent SHUTDOWN: the presenter stopped on purpose. */
  stopped: boolean;
  stderr: string;
  readonly timers: Set<NodeJS.Timeout>;
  log: Logger;
}

export async function startSrtGatekeeper(opts: SrtGatekeeperOptions): Promise<SrtGatekeeper> {
  const maxFlows = opts.maxFlows ?? 64;
  const bridgeStartMs = opts.bridgeStartMs ?? 5_000;
  const ffmpeg = opts.ffmpegPath ?? 'ffmpeg';
  const secret = crypto.randomBytes(32);
  const flows = new Map<string, Flow>();
  const refusals = new Map<string, { socketId: number; packet: Uint8Array; at: number }>();
  let closed = false;

  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A send to a vanished caller is nothing to stop for.
  socket.on('error', (err) => opts.log.warn('srt socket error', { err: String(err) }));

  /** libsrt's idea of a SYN cookie: a MAC of the caller's address and the minute. */
  const cookieFor = (ip: string, port: number, minute: number) =>
    crypto.createHmac('sha256', secret).update(`${ip}|${port}|${minute}`).digest().readUInt32BE(0);
  const cookieOk = (ip: string, port: number, cookie: number) => {
    const minute = minuteNow();
    // The previous minute too: an induction answered at :59 is concluded at :00.
    return cookie === cookieFor(ip, port, minute) || cookie === cookieFor(ip, port, minute - 1);
  };

  let socketOpen = true;
  const toCaller = (flow: { ip: string; port: number }, bytes: Uint8Array) => {
    if (socketOpen) socket.send(bytes, flow.port, flow.ip);
  };

  function refuse(ip: string, port: number, conclusion: Uint8Array, hs: Handshake, reason: number): void {
    const packet = buildRejection(conclusion, reason);
    // Bounded: the oldest refusal is forgotten first (a Map iterates in insertion order).
    const first = refusals.keys().next();
    if (refusals.size >= MAX_REFUSALS && !first.done) refusals.delete(first.value);
    refusals.set(`${ip}:${port}`, { socketId: hs.socketId, packet, at: Date.now() });
    toCaller({ ip, port }, packet);
  }

  socket.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    const from = { ip: rinfo.address, port: rinfo.port };
    const flow = flows.get(key);
    if (flow) return fromCaller(flow, msg);
    // No admitted flow: only handshakes get an answer; anything else is dropped.
    const hs = parseHandshake(msg);
    if (!hs) return;
    if (hs.type === HS_INDUCTION) {
      return toCaller(from, buildInductionReply(hs, cookieFor(from.ip, from.port, minuteNow())));
    }
    if (hs.type !== HS_CONCLUSION) return;
    const refused = refusals.get(key);
    if (refused && refused.socketId === hs.socketId && Date.now() - refused.at < REFUSAL_MEMORY_MS) {
      return toCaller(from, refused.packet);
    }
    // A wrong cookie is not answered: the address may be spoofed.
    if (!cookieOk(rinfo.address, rinfo.port, hs.cookie)) return;
    conclusion(rinfo.address, rinfo.port, msg, hs);
  });

  function conclusion(ip: string, port: number, msg: Uint8Array, hs: Handshake): void {
    if (hs.version !== 5) return refuse(ip, port, msg, hs, SRT_REJECT.version);
    if (hasExtension(hs, HS_EXT.group)) return refuse(ip, port, msg, hs, SRT_REJECT.group);
    const sid = streamIdOf(hs);
    if (!sid) return refuse(ip, port, msg, hs, SRT_REJECT.unauthorized);
    if ('tooLong' in sid) return refuse(ip, port, msg, hs, SRT_REJECT.badRequest);
    const parsed = parseStreamId(sid.sid);
    if (!parsed.ok) return refuse(ip, port, msg, hs, parsed.reason);
    if (flows.size >= maxFlows) {
      opts.log.warn('srt caller refused: too many flows', { ip, flows: flows.size });
      return refuse(ip, port, msg, hs, SRT_REJECT.overload);
    }
    const flow: Flow = {
      state: 'deciding',
      ip,
      port,
      socketId: hs.socketId,
      conclusion: msg,
      callerLatencyMs: proposedLatencyMs(hs) ?? 0,
      connected: false,
      stopped: false,
      stderr: '',
      timers: new Set(),
      log: opts.log.child({ ip, srtPort: port }),
    };
    flows.set(`${ip}:${port}`, flow);
    opts.admit(parsed.key, ip, 'srt').then(
      (decision) => {
        if (decision.ok) return admitted(flow, decision);
        flows.delete(`${ip}:${port}`);
        flow.log.info('srt caller refused', { code: decision.code });
        refuse(ip, port, flow.conclusion, hs, srtRejectCode(decision.code));
      },
      (err: unknown) => {
        flows.delete(`${ip}:${port}`);
        flow.log.error('srt admission failed', { err: String(err) });
        refuse(ip, port, flow.conclusion, hs, SRT_REJECT.internal);
      },
    );
  }

  function fromCaller(flow: Flow, msg: Buffer): void {
    if (flow.state === 'closing') return;
    const hs = parseHandshake(msg);
    if (hs?.type === HS_CONCLUSION) {
      // Another caller socket from the same address while this one lives: not ours to mix in.
      if (hs.socketId !== flow.socketId) return;
      flow.conclusion = msg;
      // Retransmitted conclusions (the bridge's answer was lost) go on with the bridge's cookie.
      if (flow.state === 'relaying' && flow.bridgeCookie !== undefined) {
        toBridge(flow, withCookie(msg, flow.bridgeCookie));
      }
      return;
    }
    if (flow.state !== 'relaying') return;
    if (isShutdown(msg) && !flow.stopped) {
      flow.stopped = true;
      flow.log.info('srt caller stopped');
      // The bridge sees the SHUTDOWN too and ends its stream; make sure it does.
      later(flow, STOP_GRACE_MS, () => kill(flow));
    }
    toBridge(flow, msg);
  }

  function toBridge(flow: Flow, bytes: Uint8Array): void {
    if (flow.inner && flow.bridgePort) flow.inner.send(bytes, flow.bridgePort, '127.0.0.1');
  }

  function later(flow: Flow, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      flow.timers.delete(t);
      fn();
    }, ms);
    flow.timers.add(t);
  }

  function admitted(flow: Flow, admission: Admission): void {
    flow.admission = admission;
    flow.log = flow.log.child({ eventId: admission.eventId });
    if (closed) return teardown(flow, 'gatekeeper stopped');
    flow.state = 'starting';
    startBridge(flow, admission).catch((err: unknown) => {
      flow.log.error('srt bridge did not start', { err: String(err) });
      refuseFlow(flow, SRT_REJECT.internal);
    });
  }

  async function startBridge(flow: Flow, admission: Admission): Promise<void> {
    const inner = dgram.createSocket('udp4');
    flow.inner = inner;
    inner.on('error', (err) => flow.log.warn('srt relay socket error', { err: String(err) }));
    await bindLoopback(inner);
    flow.bridgePort = await freeUdpPort();
    if (flow.state === 'closing') return;
    const args = srtBridgeArgs({
      port: flow.bridgePort,
      latencyMs: Math.max(opts.latencyMs, flow.callerLatencyMs),
      rtmpUrl: admission.rtmpUrl,
      passphrase: admission.srtPassphrase,
      listenTimeoutMs: bridgeStartMs + CONNECT_MS,
    });
    // Dies with the ingest, and counts in the onair_ffmpeg_processes gauge.
    const bridge = spawnFfmpeg(ffmpeg, args);
    flow.bridge = bridge;
    bridge.stdout.resume();
    bridge.stderr.on('data', (chunk: Buffer) => {
      flow.stderr = (flow.stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    bridge.on('error', (err) => flow.log.error('srt bridge failed', { err: String(err) }));
    bridge.on('close', (code, signal) => {
      const stderr = redactStreamKeys(flow.stderr.trim());
      if (flow.state === 'starting') {
        flow.log.error('srt bridge exited before it listened', { code, signal, stderr });
        refuseFlow(flow, SRT_REJECT.internal);
      } else {
        flow.log.info('srt bridge exited', { code, signal, ...(code ? { stderr } : {}) });
        teardown(flow, 'bridge exited');
      }
    });
    inner.on('message', (msg, rinfo) => {
      if (rinfo.port === flow.bridgePort) fromBridge(flow, msg);
    });

    // Poll the new listener until it answers: ffmpeg binds its port some 100 ms after the spawn.
    const induction = buildInductionRequest(parseHandshake(flow.conclusion) ?? fail('stored conclusion'));
    const poll = setInterval(() => {
      if (flow.state === 'starting') toBridge(flow, induction);
    }, POLL_MS);
    flow.timers.add(poll);
    toBridge(flow, induction);
    later(flow, bridgeStartMs, () => {
      clearInterval(poll);
      if (flow.state !== 'starting') return;
      flow.log.error('srt bridge did not answer', { ms: bridgeStartMs });
      refuseFlow(flow, SRT_REJECT.internal);
    });
  }

  function fromBridge(flow: Flow, msg: Buffer): void {
    const hs = parseHandshake(msg);
    // A bridge being stopped still says SHUTDOWN: the caller hears it rather than timing out.
    if (flow.state === 'closing') {
      if (flow.connected && !hs) toCaller(flow, msg);
      return;
    }
    if (hs?.type === HS_INDUCTION) {
      if (flow.state !== 'starting') return; // a late answer to an extra poll
      flow.state = 'relaying';
      flow.bridgeCookie = hs.cookie;
      toBridge(flow, withCookie(flow.conclusion, hs.cookie));
      later(flow, CONNECT_MS, () => {
        if (!flow.connected) {
          flow.log.warn('srt handshake with the bridge did not complete');
          kill(flow);
        }
      });
      return;
    }
    if (flow.state !== 'relaying') return;
    if (hs?.type === HS_CONCLUSION) flow.connected = true;
    else if (hs && rejectionReason(hs) !== undefined) {
      // The bridge refused the caller (passphrase mismatch): the caller gets its reason, the bridge goes.
      flow.log.info('srt bridge rejected the caller', { reason: rejectionReason(hs) });
      toCaller(flow, msg);
      return kill(flow);
    }
    toCaller(flow, msg);
  }

  /** Ends a flow that never got to relay: the caller is told why, the bridge (if any) goes. */
  function refuseFlow(flow: Flow, reason: number): void {
    if (flow.state === 'closing') return;
    const hs = parseHandshake(flow.conclusion);
    if (hs) refuse(flow.ip, flow.port, flow.conclusion, hs, reason);
    teardown(flow, 'refused');
  }

  /** Asks the bridge to finish (SIGINT: ffmpeg closes the RTMP stream properly), then forces it. */
  function kill(flow: Flow): void {
    const bridge = flow.bridge;
    if (!bridge || bridge.exitCode !== null || bridge.signalCode !== null) return teardown(flow, 'no bridge');
    bridge.kill('SIGINT');
    const force = setTimeout(() => bridge.kill('SIGKILL'), STOP_GRACE_MS);
    bridge.once('close', () => clearTimeout(force));
  }

  /** Forgets the flow and ends its admission, once; a running bridge is killed first. */
  function teardown(flow: Flow, why: string): void {
    const bridge = flow.bridge;
    if (bridge && bridge.exitCode === null && bridge.signalCode === null) {
      flow.state = 'closing';
      return kill(flow); // its 'close' comes back here
    }
    if (flows.get(`${flow.ip}:${flow.port}`) === flow) flows.delete(`${flow.ip}:${flow.port}`);
    flow.state = 'closing';
    for (const t of flow.timers) clearTimeout(t);
    flow.timers.clear();
    try {
      flow.inner?.close();
    } catch {
      // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING).
    }
    flow.inner = undefined;
    flow.log.debug('srt flow over', { why, stopped: flow.stopped });
    flow.admission?.end({ stopped: flow.stopped });
  }

  return {
    port: socket.address().port,
    flows: () => flows.size,
    async stop() {
      if (closed) return;
      closed = true;
      const exits = [...flows.values()].map((flow) => {
        const bridge = flow.bridge;
        const running = bridge && bridge.exitCode === null && bridge.signalCode === null;
        const exited = running
          ? new Promise<void>((r) => bridge.once('close', () => r()))
          : Promise.resolve();
        teardown(flow, 'gatekeeper stopped');
        return exited;
      });
      await Promise.all(exits);
      socketOpen = false;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

const minuteNow = () => Math.floor(Date.now() / 60_000);

function fail(what: string): never {
  throw new Error(`srt gatekeeper: bad ${what}`);
}

function bindLoopback(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => {
      sock.off('error', reject);
      resolve();
    });
  });
}
