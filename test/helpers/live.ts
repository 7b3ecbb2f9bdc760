import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from '../../src/log.ts';
import { startRtmpIngest, type IngestSession, type RunningIngest } from '../../src/live/rtmp-ingest.ts';
import { freePort } from '../../src/net/free-ports.ts';

const require = createRequire(import.meta.url);

export interface PublisherSpec {
  width?: number;
  height?: number;
  fps?: number;
  /**
   * Seconds between keyframes, as set in OBS. Default 1 s, what the event page asks presenters
   * for (the top rung is then copied); tests of what most presenters send use 250 / 30 (x264's
   * default), or 2 (OBS's own recommendation).
   */
  keyframeSeconds?: number;
  /** Stop by itself after this long (a clean stop: FCUnpublish + deleteStream). */
  seconds?: number;
  /** Paced at real time (-re), as an encoder sends; false writes a file as fast as it can. */
  realtime?: boolean;
  /** Burn the sender's wall clock into the picture as a 24-bit barcode (latency benchmark). */
  clockBarcode?: boolean;
  preset?: string;
  /** SRT urls: the caller's latency (receive buffer); the connection takes the larger of both ends'. */
  srtLatencyMs?: number;
  /** ffmpeg's error output, as it comes (say, to see why an SRT connection was refused). */
  stderr?: (text: string) => void;
}

/** An `srt://` URL as ffmpeg's SRT caller takes it: latency (µs), a connect timeout, TS-sized packets. */
export function srtCallerUrl(url: string, latencyMs: number): string {
  const u = new URL(url);
  u.searchParams.set('latency', String(latencyMs * 1000));
  u.searchParams.set('connect_timeout', '5000');
  u.searchParams.set('pkt_size', '1316');
  return u.toString();
}

export interface Publisher {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Like pressing "Stop streaming": ffmpeg closes the RTMP stream properly. */
  stop(): Promise<void>;
  /** Like a cable pulled: the connection just dies. */
  drop(): Promise<void>;
}

/** Bits of the barcode: the sender's clock in units of 10 ms, modulo 2^24 (about 46 hours). */
export const BARCODE_BITS = 24;
export const BARCODE_BOX = 32;

function barcodeFilter(): string {
  const boxes = Array.from({ length: BARCODE_BITS }, (_, k) => {
    const x = (k % 12) * BARCODE_BOX;
    const y = Math.floor(k / 12) * BARCODE_BOX;
    // time(0) is the wall clock when the frame is drawn: with -re, when it is sent.
    return `drawbox=x=${x}:y=${y}:w=${BARCODE_BOX}:h=${BARCODE_BOX}:color=white:t=fill:enable='eq(mod(floor(floor(time(0)*100)/${2 ** k}),2),1)'`;
  });
  return [`drawbox=x=0:y=0:w=${12 * BARCODE_BOX}:h=${2 * BARCODE_BOX}:color=black:t=fill`, ...boxes].join(
    ',',
  );
}

/**
 * An OBS-like publisher made of ffmpeg: lavfi picture and tone, x264 with a fixed keyframe
 * interval, AAC 48 kHz, FLV over RTMP, paced in real time (-re).
 */
export function startPublisher(url: string, spec: PublisherSpec = {}): Publisher {
  const { width = 1280, height = 720, fps = 30, keyframeSeconds = 1 } = spec;
  const gop = String(Math.round(fps * keyframeSeconds));
  const video = `testsrc2=size=${width}x${height}:rate=${fps}${spec.clockBarcode ? `,${barcodeFilter()}` : ''}`;
  const args = ['-hide_banner', '-loglevel', 'error', '-y', ...(spec.realtime === false ? [] : ['-re'])];
  args.push('-f', 'lavfi', '-i', video);
  args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  if (spec.seconds) args.push('-t', String(spec.seconds));
  args.push(
    ...[
      '-c:v',
      'libx264',
      '-preset',
      spec.preset ?? 'ultrafast',
      '-tune',
      'zerolatency',
      '-pix_fmt',
      'yuv420p',
    ],
    ...[
      '-g',
      gop,
      '-keyint_min',
      gop,
      '-sc_threshold',
      '0',
      '-b:v',
      '2500k',
      '-maxrate',
      '2500k',
      '-bufsize',
      '2500k',
    ],
    ...['-c:a', 'aac', '-b:a', '128k', '-ar', '48000'],
    // SRT carries MPEG-TS (as OBS sends it); ffmpeg's SRT latency is in µs.
    ...(url.startsWith('srt://')
      ? ['-f', 'mpegts', srtCallerUrl(url, spec.srtLatencyMs ?? 500)]
      : ['-f', 'flv', url]),
  );
  const child = spawn('ffmpeg', args, { stdio: spec.stderr ? ['ignore', 'ignore', 'pipe'] : 'ignore' });
  if (spec.stderr) child.stderr?.on('data', (chunk: Buffer) => spec.stderr!(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
    async drop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Publishes the way OBS does (connect, createStream, publish, then media without waiting for a
 * reply), with node-media-server's own RTMP client. Returns the server's answer to the publish.
 */
export async function obsLikePublish(
  url: string,
): Promise<{ code: string; description: string; closedByServer: boolean }> {
  const RtmpClient = require('node-media-server/src/protocol/rtmp_client.js') as new () => {
    connect(url: string): Promise<void>;
    sendConnect(): Promise<unknown>;
    sendCreateStream(): Promise<number>;
    sendPublish(name: string): Promise<unknown>;
    disconnect(): void;
    onStatusCallback: (code: string, info: { description?: string }) => void;
    onCloseCallback: (hadError: boolean) => void;
  };
  const client = new RtmpClient();
  let status = { code: '', description: '' };
  let closed = false;
  client.onStatusCallback = (code, info) => (status = { code, description: info.description ?? '' });
  client.onCloseCallback = () => (closed = true);
  const streamName = new URL(url).pathname.split('/').slice(2).join('/');
  await client.connect(url);
  await client.sendConnect();
  await client.sendCreateStream();
  await client.sendPublish(streamName).catch(() => undefined);
  // A refused publisher gets its connection closed: wait for that (or give up after 3 s).
  for (let i = 0; i < 30 && !closed; i++) await new Promise((r) => setTimeout(r, 100));
  const result = { ...status, closedByServer: closed };
  client.disconnect();
  return result;
}

/**
 * The RTMP ingest in this process on a free loopback port, accepting every publish under the name
 * `authorize` gives (default: the stream name as sent): for tests that drive the live session,
 * the SRT gatekeeper or the WHIP server without a whole onair.
 */
export async function startLoopbackIngest(opts: {
  dataDir: string;
  log: Logger;
  playSecret?: string;
  streamName?: (name: string) => string;
  started?: (session: IngestSession) => void;
}): Promise<RunningIngest> {
  return startRtmpIngest({
    port: await freePort(),
    host: '127.0.0.1',
    playSecret: opts.playSecret ?? 'test-play-secret',
    dataDir: opts.dataDir,
    log: opts.log,
    hooks: {
      authorize: (_app, name) => Promise.resolve({ ok: true, streamName: opts.streamName?.(name) ?? name }),
      started: (session) => opts.started?.(session),
      stopped() {},
      closed() {},
    },
  });
}
