import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInductionRequest,
  encodeHandshake,
  encodeStringExtension,
  HS_CONCLUSION,
  HS_EXT,
  HS_FLAG,
  parseHandshake,
  type Handshake,
} from '../../pipelines/srt-handshake.ts';
import type { Admission, Admit, Refusal } from '../../src/live/admission.ts';
import type { IngestSession, RunningIngest } from '../../src/live/rtmp-ingest.ts';
import { startSrtGatekeeper, type SrtGatekeeper } from '../../src/live/srt-gatekeeper.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { until } from '../helpers/api.ts';
import { startLoopbackIngest } from '../helpers/live.ts';
import { startLossyRelay } from '../helpers/lossy-udp-relay.ts';
import { childProcesses } from '../helpers/onair-process.ts';

/**
 * The SRT gatekeeper in front of a real in-process RTMP ingest, with real ffmpeg callers: refusals
 * in the handshake before any bridge exists, an admitted caller republished to RTMP, stop vs drop,
 * and a stream through 5 % loss each way (docs/design/srt-whip-ingest.md §A and §C).
 */
const RIGHT_KEY = 'live_right_key_0001';
const BUSY_KEY = 'live_busy_key_0001';

let work: string;
let ingest: RunningIngest;
let gate: SrtGatekeeper;
const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
const sessions: IngestSession[] = [];
const authorized: string[] = [];
const admits: { key: string; ip: string; protocol: string }[] = [];
const ends: { name: string; stopped: boolean }[] = [];
const callers: ChildProcess[] = [];
let onetime = 0;

/** Keeps every line (the gatekeeper's errors are assertions here), prints none. */
function recordingLogger(): Logger {
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    lines.push({ level, msg, fields });
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

const admit: Admit = (key, ip, protocol) => {
  admits.push({ key, ip, protocol });
  if (key === BUSY_KEY) return Promise.resolve<Refusal>({ ok: false, code: 'busy', reason: 'taken' });
  if (key !== RIGHT_KEY)
    return Promise.resolve<Refusal>({ ok: false, code: 'unknown_key', reason: 'no such key' });
  const name = `srt-once-${++onetime}`;
  const admission: Admission = {
    ok: true,
    eventId: 'ev_srt',
    rtmpUrl: `rtmp://127.0.0.1:${ingest.port}/live/${name}`,
    end: (how) => ends.push({ name, stopped: how.stopped }),
  };
  return Promise.resolve(admission);
};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-srt-'));
  ingest = await startLoopbackIngest({
    dataDir: work,
    log: createLogger('error'),
    streamName: (name) => {
      authorized.push(name);
      return name;
    },
    started: (session) => sessions.push(session),
  });
  gate = await startSrtGatekeeper({
    port: 0,
    host: '127.0.0.1',
    admit,
    log: recordingLogger(),
    latencyMs: 120,
  });
});

afterEach(() => {
  for (const c of callers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

afterAll(async () => {
  await gate?.stop();
  await ingest?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

interface Caller {
  child: ChildProcess;
  exited: Promise<{ code: number | null; stderr: string }>;
}

/** An SRT encoder made of ffmpeg (design §C), paced in real time. */
function srtCaller(port: number, streamId: string, seconds: number): Caller {
  // ffmpeg 5.1 passes the streamid as written (no percent-decoding): `#!::r=…,m=publish` goes raw.
  const url = `srt://127.0.0.1:${port}?streamid=${streamId}&latency=500000&connect_timeout=5000&pkt_size=1316`;
  const args = [
    ...['-hide_banner', '-nostdin', '-loglevel', 'error', '-re'],
    ...[
      '-f',
      'lavfi',
      '-i',
      'testsrc2=s=640x360:r=30',
      '-f',
      'lavfi',
      '-i',
      'sine=r=48000',
      '-t',
      String(seconds),
    ],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '60', '-b:v', '1M'],
    ...['-c:a', 'aac', '-f', 'mpegts', url],
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  callers.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

const bridges = () => childProcesses(process.pid).filter((c) => c.cmdline.includes('mode=listener'));

/** A hand-built caller: induction, then a conclusion with the given streamid; returns the answer. */
async function handshakeWith(
  streamId: string,
  cookie?: (real: number) => number,
  port = gate.port,
): Promise<Handshake | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const replies: Handshake[] = [];
  sock.on('message', (msg) => {
    const hs = parseHandshake(msg);
    if (hs) replies.push(hs);
  });
  const next = async (): Promise<Handshake | undefined> => {
    for (let i = 0; i < 20 && replies.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    return replies.shift();
  };
  try {
    const socketId = 0x1234567;
    const cif = { socketId, initialSeq: 1000, mtu: 1500, flowWindow: 8192 };
    sock.send(buildInductionRequest(cif), port, '127.0.0.1');
    const induction = await next();
    if (!induction) throw new Error('no induction reply');
    const hsreq = new Uint8Array(12);
    new DataView(hsreq.buffer).setUint32(0, 0x010501);
    new DataView(hsreq.buffer).setUint32(8, (500 << 16) | 500);
    const conclusion: Handshake = {
      ...cif,
      timestamp: 0,
      destSocketId: 0,
      version: 5,
      encryption: 0,
      extensionField: HS_FLAG.hsreq | HS_FLAG.config,
      type: HS_CONCLUSION,
      cookie: cookie ? cookie(induction.cookie) : induction.cookie,
      peerIp: new Uint8Array(16),
      extensions: [
        { type: HS_EXT.hsreq, content: hsreq },
        { type: HS_EXT.sid, content: encodeStringExtension(streamId) },
      ],
    };
    sock.send(encodeHandshake(conclusion), port, '127.0.0.1');
    return await next();
  } finally {
    sock.close();
  }
}

/** Largest pause (ms) in a session's byte count while `running()`, sampled every 100 ms. */
async function longestStall(session: IngestSession, running: () => boolean): Promise<number> {
  let last = session.inBytes();
  let lastAt = Date.now();
  let worst = 0;
  while (running()) {
    await new Promise((r) => setTimeout(r, 100));
    const now = session.inBytes();
    if (now > last) {
      last = now;
      lastAt = Date.now();
    }
    worst = Math.max(worst, Date.now() - lastAt);
  }
  return worst;
}

describe('SRT callers with a wrong key', () => {
  it('are refused in the handshake, before any bridge or publish exists', async () => {
    const started = Date.now();
    const { code, stderr } = await srtCaller(gate.port, 'live_wrong_key_0001', 5).exited;
    expect(code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    // libsrt's own line; ffmpeg adds only "Input/output error".
    expect(stderr).toMatch(/REJECT.*Application-defined rejection reason/);
    expect(admits).toEqual([{ key: 'live_wrong_key_0001', ip: '127.0.0.1', protocol: 'srt' }]);
    expect(bridges()).toEqual([]);
    expect(authorized).toEqual([]);
    expect(gate.flows()).toBe(0);
  });

  it('see the SRT reason code on the wire', async () => {
    expect((await handshakeWith('live_nope'))?.type).toBe(2401);
    expect((await handshakeWith(BUSY_KEY))?.type).toBe(2409);
    expect((await handshakeWith(`#!::r=${RIGHT_KEY},m=request`))?.type).toBe(2405);
    // A conclusion whose cookie this gatekeeper did not give gets no answer at all.
    expect(await handshakeWith(RIGHT_KEY, (c) => c ^ 1)).toBeUndefined();
    expect(bridges()).toEqual([]);
    expect(authorized).toEqual([]);
  });
});

describe('an SRT caller with the right key', () => {
  it('is bridged to the RTMP ingest, and a clean end is a stop', async () => {
    const before = ends.length;
    const caller = srtCaller(gate.port, `#!::r=${RIGHT_KEY},m=publish`, 6);
    const spawnedAt = Date.now();
    await until('the publish', () => sessions.length === 1, 8000);
    // Admission, bridge spawn, handshake and a 1 s probe: the RTMP publish follows within seconds.
    expect(Date.now() - spawnedAt).toBeLessThan(5000);
    const session = sessions[0] as IngestSession;
    expect(admits.at(-1)).toEqual({ key: RIGHT_KEY, ip: '127.0.0.1', protocol: 'srt' });
    expect(`srt-once-${onetime}`).toBe(session.streamName);
    expect(authorized).toEqual([session.streamName]);
    await until('bytes at the ingest', () => session.inBytes() > 50_000, 8000);
    expect(gate.flows()).toBe(1);
    expect(bridges()).toHaveLength(1);
    const { code } = await caller.exited;
    expect(code).toBe(0);
    await until('the end', () => ends.length > before, 8000);
    expect(ends.slice(before)).toEqual([{ name: session.streamName, stopped: true }]);
    await until('the flow gone', () => gate.flows() === 0 && bridges().length === 0, 5000);
  });

  it('that dies (SIGKILL) is a drop, noticed after SRT’s peer idle timeout', async () => {
    const before = { ends: ends.length, sessions: sessions.length };
    const caller = srtCaller(gate.port, RIGHT_KEY, 30);
    const session = await until('the publish', () => sessions[before.sessions], 10_000);
    await until('bytes at the ingest', () => session.inBytes() > 50_000, 10_000);
    caller.child.kill('SIGKILL');
    await caller.exited;
    const killedAt = Date.now();
    await until('the end', () => ends.length > before.ends, 12_000);
    // libsrt's peer idle timeout is 5 s; the bridge then exits and the flow ends.
    expect(Date.now() - killedAt).toBeGreaterThan(4000);
    expect(ends.slice(before.ends)).toEqual([{ name: session.streamName, stopped: false }]);
    await until('the flow gone', () => gate.flows() === 0 && bridges().length === 0, 5000);
  });
});

describe('an SRT caller whose RTMP side is cut by the ingest', () => {
  it('ends as a drop, and the caller is told at once', async () => {
    const before = { ends: ends.length, sessions: sessions.length };
    const caller = srtCaller(gate.port, RIGHT_KEY, 30);
    const session = await until('the publish', () => sessions[before.sessions], 10_000);
    await until('bytes at the ingest', () => session.inBytes() > 50_000, 10_000);
    const cutAt = Date.now();
    session.disconnect();
    await until('the end', () => ends.length > before.ends, 8000);
    expect(ends.slice(before.ends)).toEqual([{ name: session.streamName, stopped: false }]);
    // The bridge's SHUTDOWN is relayed: the caller does not wait for its peer idle timeout.
    expect((await caller.exited).code).not.toBe(0);
    expect(Date.now() - cutAt).toBeLessThan(3000);
    await until('the flow gone', () => gate.flows() === 0 && bridges().length === 0, 5000);
  });
});

describe('a gatekeeper', () => {
  it('refuses callers over its limit, and on stop ends its flows and tells their callers', async () => {
    const small = await startSrtGatekeeper({
      port: 0,
      host: '127.0.0.1',
      admit,
      log: recordingLogger(),
      latencyMs: 120,
      maxFlows: 1,
    });
    const before = { ends: ends.length, sessions: sessions.length };
    const caller = srtCaller(small.port, RIGHT_KEY, 30);
    const session = await until('the publish', () => sessions[before.sessions], 10_000);
    await until('bytes at the ingest', () => session.inBytes() > 50_000, 10_000);
    expect((await handshakeWith(RIGHT_KEY, undefined, small.port))?.type).toBe(2402); // SRT_REJX_OVERLOAD
    const stopAt = Date.now();
    await small.stop();
    expect(ends.slice(before.ends)).toEqual([{ name: session.streamName, stopped: false }]);
    expect(small.flows()).toBe(0);
    expect(bridges()).toEqual([]);
    expect((await caller.exited).code).not.toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(3000);
  });
});

describe('an SRT caller through 5 % loss each way', () => {
  it('keeps the RTMP side fed without a gap, SRT repairing the loss', async () => {
    const relay = await startLossyRelay({
      target: { host: '127.0.0.1', port: gate.port },
      lossRatio: 0.05,
      seed: 7,
    });
    const before = { ends: ends.length, sessions: sessions.length, lines: lines.length };
    try {
      const caller = srtCaller(relay.port, RIGHT_KEY, 15);
      let running = true;
      void caller.exited.then(() => (running = false));
      const session = await until('the publish', () => sessions[before.sessions], 10_000);
      await until('bytes at the ingest', () => session.inBytes() > 0, 10_000);
      const stall = await longestStall(session, () => running);
      expect((await caller.exited).code).toBe(0);
      expect(stall).toBeLessThan(2000);
      // 15 s at 1 Mb/s is about 1.9 MB; the bridge re-encodes the audio only.
      expect(session.inBytes()).toBeGreaterThan(1_000_000);

      const c = relay.stats();
      expect(c.dropped / c.packets).toBeGreaterThan(0.035);
      expect(c.dropped / c.packets).toBeLessThan(0.065);
      expect(c.naks).toBeGreaterThan(0);
      expect(c.retransmits).toBeGreaterThan(0);
      // 500 ms of latency leaves time to repair every loss: nothing was given up.
      expect(c.dropReqs).toBe(0);
      await until('the end', () => ends.length > before.ends, 12_000);
      // The bridge ran clean: nothing worse than info from the gatekeeper.
      expect(lines.slice(before.lines).filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    } finally {
      await relay.close();
    }
  });
});
