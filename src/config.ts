import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { keyProblem } from './storage/keys.ts';

const bytes = z
  .string()
  .regex(/^\d+(\.\d+)?\s*([kmgt]i?b?)?$/i, 'a size such as 500MB or 20GiB')
  .transform((text) => {
    const match = /^(\d+(?:\.\d+)?)\s*([kmgt])?/i.exec(text)!;
    const unit = (match[2] ?? '').toLowerCase();
    const power = ['', 'k', 'm', 'g', 't'].indexOf(unit);
    return Math.floor(Number(match[1]) * 1024 ** power);
  });

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /** Public base URL used in playback links (defaults to http://localhost:PORT). */
  PUBLIC_URL: z.url().optional(),
  DATA_DIR: z.string().default('./data'),
  REDIS_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  /** PostgreSQL connections each process keeps (api, workers and ingest each have their own pool). */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).optional(),
  ONAIR_API_KEY: z.string().min(16, 'ONAIR_API_KEY must be at least 16 characters').optional(),
  MAX_UPLOAD_SIZE: bytes.default(20 * 1024 ** 3),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  FFPROBE_PATH: z.string().default('ffprobe'),
  REDIS_SERVER_PATH: z.string().default('redis-server'),
  X264_PRESET: z
    .enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow'])
    .default('veryfast'),
  /** Short segments make a still-encoding asset playable sooner and let simulive join finely. */
  HLS_SEGMENT_SECONDS: z.coerce.number().min(1).max(10).default(2),
  /** How many transcodes one worker process runs at once (each ffmpeg uses every core). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
  /** Worker processes `npm start` forks. */
  WORKERS: z.coerce.number().int().min(0).max(32).default(1),
  /** BullMQ lock: a worker that dies loses its job to another after this long. */
  JOB_LOCK_MS: z.coerce.number().int().min(1000).default(30_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Signs playback tokens, cookies and self-service links; every node of a cluster needs the same. */
  ONAIR_SECRET: z.string().min(32, 'ONAIR_SECRET must be at least 32 characters').optional(),
  PLAYBACK_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(6 * 3600),
  /** Registrants are anonymised this many days after their event ends. */
  RETENTION_DAYS: z.coerce.number().int().min(1).default(90),
  REGISTER_RATE_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  /**
   * Who may make a new account by signing up: `invite-only` (the default: the first owner claims
   * the first account with the API key printed at first start; everyone else is invited) or `open`.
   */
  SIGNUP: z.enum(['invite-only', 'open'], { error: 'invite-only or open' }).default('invite-only'),
  /** Memory the origin keeps hot files in (segments, playlists): the live edge is the same few files for everyone. */
  ORIGIN_CACHE_SIZE: bytes.default(256 * 1024 ** 2),
  /**
   * HTTP processes (API + origin) sharing the port: `auto` is one per core (a crowd's requests are
   * CPU-bound in the origin); 1 serves from the main process itself.
   */
  HTTP_PROCESSES: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)])
    .default('auto')
    .transform((n) => (n === 'auto' ? Math.min(64, os.availableParallelism()) : n)),
  /** RTMP ingest (OBS): `npm start` runs it unless INGEST=off; `npm run ingest` runs it alone. */
  INGEST: z.enum(['on', 'off']).default('on'),
  RTMP_PORT: z.coerce.number().int().min(0).max(65535).default(1935),
  RTMP_HOST: z.string().default('0.0.0.0'),
  /** What presenters paste into OBS as the server (defaults to rtmp://<PUBLIC_URL host>:RTMP_PORT/live). */
  RTMP_PUBLIC_URL: z
    .string()
    .regex(/^rtmps?:\/\//, 'an rtmp:// or rtmps:// URL')
    .optional(),
  /** Host workers pull this ingest's streams from (another machine's workers need a routable one). */
  INGEST_ADVERTISE_HOST: z.string().default('127.0.0.1'),
  /**
   * SRT ingest (encoders on lossy networks): one UDP port for every event, the stream key in the
   * streamid. `off` disables it; 0 picks a free port (tests).
   */
  SRT_PORT: z
    .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)], { error: 'a UDP port or off' })
    .default(8890),
  SRT_HOST: z.string().default('0.0.0.0'),
  /** What presenters paste into their encoder, without the streamid (defaults to srt://<PUBLIC_URL host>:SRT_PORT). */
  SRT_PUBLIC_URL: z
    .string()
    .regex(/^srt:\/\/[^/?#]+$/, 'an srt://host:port URL, without a path or query')
    .optional(),
  /**
   * The least SRT latency (receive buffer) onair accepts: a caller asking for more gets more. About
   * 4× the round-trip time; more survives more loss, and every millisecond of it is delay.
   */
  SRT_LATENCY_MS: z.coerce.number().int().min(20).max(8000).default(200),
  /**
   * WHIP ingest (go live from the browser, RFC 9725): the ingest's HTTP port for the signalling.
   * `off` disables it; 0 picks a free port (tests). `npm start` serves it at PUBLIC_URL/whip too.
   */
  WHIP_PORT: z
    .union([z.literal('off'), z.coerce.number().int().min(0).max(65535)], { error: 'a TCP port or off' })
    .default(8889),
  WHIP_HOST: z.string().default('127.0.0.1'),
  /** The WHIP endpoint presenters use (defaults to PUBLIC_URL/whip/endpoint, proxied to the ingest). */
  WHIP_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
  /** The ingest's public IPv4 address for ICE (behind 1:1 NAT, or when the host has several). */
  WHIP_PUBLIC_IP: z.ipv4({ error: 'an IPv4 address' }).optional(),
  /** UDP ports WebRTC media arrives on (open them in the firewall): `MIN-MAX`. */
  WHIP_UDP_PORTS: z
    .string()
    .regex(/^\d{4,5}-\d{4,5}$/, 'a range such as 20000-20099')
    .refine((r) => {
      const [a, b] = r.split('-').map(Number) as [number, number];
      return a >= 1024 && b <= 65535 && a <= b;
    }, 'MIN-MAX with 1024 <= MIN <= MAX <= 65535')
    .default('20000-20099'),
  /** Loopback ICE candidates (tests, and a presenter's browser on the ingest's own machine). */
  WHIP_ALLOW_LOOPBACK: z.enum(['on', 'off']).default('off'),
  /** Live segment length: short segments are what keeps glass-to-glass latency low. */
  LIVE_SEGMENT_SECONDS: z.coerce.number().min(0.5).max(6).default(1),
  /** How far back live viewers can seek. */
  LIVE_DVR_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(6 * 3600)
    .default(120),
  /** An encoder that drops may come back within this long and the event stays live. */
  LIVE_RECONNECT_GRACE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** How long before its start time a live event accepts a stream (rehearsals, sound checks). */
  LIVE_EARLY_MINUTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(60),
  /** `auto` copies an H.264 source as the top rung; `off` encodes every rung. */
  LIVE_PASSTHROUGH: z.enum(['auto', 'off']).default('auto'),
  /** Low-Latency HLS parts for live events (`off`: regular HLS only; an event can turn it off too). */
  LIVE_LOW_LATENCY: z.enum(['on', 'off']).default('on'),
  /** LL-HLS part target: ffmpeg cuts a fragment at least this often (and at every keyframe). */
  LIVE_PART_SECONDS: z.coerce
    .number()
    .min(0.1)
    .max(2)
    .default(1 / 3),
  /** Live streams one worker process carries at once. */
  LIVE_STREAMS_PER_WORKER: z.coerce.number().int().min(1).max(64).default(4),
  /** Lock of a live job: a worker that dies loses its streams to another after this long. */
  LIVE_LOCK_MS: z.coerce.number().int().min(1000).default(4000),
  /** Where emails go out: smtp://user:pass@host:587 (STARTTLS) or smtps://...:465. Unset: no emails. */
  SMTP_URL: z
    .string()
    .regex(/^smtps?:\/\//, 'an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().default('onair <webinars@localhost>'),
  /** Reminders before a session, e.g. `24h,1h,10m` (s, m, h, d). */
  REMINDER_OFFSETS: z
    .string()
    .regex(/^\s*\d+\s*[smhd](\s*,\s*\d+\s*[smhd])*\s*$/, 'a list like 24h,1h,10m')
    .default('24h,1h,10m'),
  /** How long after a session ends registrants who did not watch get the replay link. */
  MISSED_MAIL_DELAY: z
    .string()
    .regex(/^\s*\d+\s*[smhd]\s*$/, 'a duration like 5m')
    .default('5m'),
  /**
   * Webhooks may point at loopback, private, link-local and other non-public addresses. Off by
   * default: an API user could otherwise make the server POST to itself, its network or a cloud
   * metadata service (SSRF). Self-hosters whose receivers live on their own network turn it on.
   */
  WEBHOOK_ALLOW_PRIVATE: z.enum(['true', 'false'], { error: 'true or false' }).default('false'),
  /**
   * Media in an S3-compatible bucket (every node of a cluster sees the same files); unset keeps
   * media on local disk under DATA_DIR/media. Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
   */
  S3_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$/, 'a bucket name (3 to 63 letters, digits, dots, hyphens)')
    .optional(),
  /** An S3-compatible server (MinIO, Garage, Ceph, R2...); unset means AWS S3 itself. */
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
    .refine(
      (url) => !/^https?:\/\/[^/]*@/.test(url),
      'a URL without credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead)',
    )
    .optional(),
  S3_REGION: z.string().trim().min(1).default('us-east-1'),
  /**
   * Read from the same environment as the rest, so a server started with an env object (tests, a
   * supervisor) uses what it was given; unset: the AWS SDK's own chain (profiles, instance roles).
   */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  /** `https://host/bucket/key` addressing; defaults to true with S3_ENDPOINT (most S3-compatible servers need it). */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false'], { error: 'true or false' }).optional(),
  /** A folder inside the bucket for this install's media, so several installs can share a bucket. */
  S3_PREFIX: z
    .string()
    .transform((input, ctx) => {
      const prefix = input.replace(/^\/+|\/+$/g, '');
      const problem = prefix === '' ? undefined : keyProblem(prefix);
      if (problem)
        ctx.issues.push({
          code: 'custom',
          input,
          message: `a folder path such as onair/prod; this one ${problem}`,
        });
      return prefix;
    })
    .optional(),
});

export type Config = Readonly<{
  port: number;
  host: string;
  publicUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  databaseUrl: string | undefined;
  databasePoolSize: number | undefined;
  apiKey: string | undefined;
  maxUploadBytes: number;
  ffmpegPath: string;
  ffprobePath: string;
  redisServerPath: string;
  x264Preset: string;
  segmentSeconds: number;
  workerConcurrency: number;
  workers: number;
  jobLockMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  secret: string | undefined;
  playbackTokenTtlSeconds: number;
  retentionDays: number;
  registerPerMinute: number;
  originCacheBytes: number;
  httpProcesses: number;
  ingest: boolean;
  rtmpPort: number;
  rtmpHost: string;
  rtmpPublicUrl: string | undefined;
  ingestAdvertiseHost: string;
  /** SRT ingest, or undefined when SRT_PORT=off. */
  srt: { port: number; host: string; publicUrl: string | undefined; latencyMs: number } | undefined;
  /** WHIP ingest, or undefined when WHIP_PORT=off. */
  whip:
    | {
        port: number;
        host: string;
        publicUrl: string | undefined;
        publicIp: string | undefined;
        udpPorts: readonly [number, number];
        allowLoopback: boolean;
      }
    | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  /** Reminder offsets before a session, in seconds, largest first. */
  reminderOffsetsSeconds: readonly number[];
  missedMailDelaySeconds: number;
  /** SIGNUP: whether anyone may sign up for a new account. */
  signup: 'invite-only' | 'open';
  /** WEBHOOK_ALLOW_PRIVATE: webhooks may target non-public addresses. */
  webhookAllowPrivate: boolean;
  /** Media storage in an S3-compatible bucket (S3_BUCKET set), or undefined: local disk under DATA_DIR/media. */
  s3: S3Config | undefined;
  live: {
    segmentSeconds: number;
    dvrSeconds: number;
    reconnectGraceSeconds: number;
    earlyMinutes: number;
    passthrough: boolean;
    lowLatency: boolean;
    partSeconds: number;
    streamsPerWorker: number;
    lockMs: number;
  };
}>;

export type S3Config = Readonly<{
  bucket: string;
  /** Unset: AWS S3 itself. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** A folder inside the bucket (no leading or trailing `/`), or undefined for the bucket's root. */
  prefix: string | undefined;
  /** Access keys from the environment, or undefined for the AWS SDK's default credential chain. */
  credentials: Readonly<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }> | undefined;
}>;

/** `90s`, `10m`, `1h`, `2d` in seconds. */
function durationSeconds(text: string): number {
  const m = /(\d+)\s*([smhd])/.exec(text)!;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Parses the environment once into a frozen, typed configuration; throws a readable error. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset (`REDIS_URL= npm start`).
  const parsed = EnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`Invalid configuration:\n${problems}`);
  }
  const e = parsed.data;
  const s3Orphans = (['S3_ENDPOINT', 'S3_FORCE_PATH_STYLE', 'S3_PREFIX'] as const).filter(
    (k) => e[k] !== undefined,
  );
  if (!e.S3_BUCKET && s3Orphans.length > 0) {
    throw new Error(
      `Invalid configuration:\n  S3_BUCKET: is required when ${s3Orphans.join(', ')} ${s3Orphans.length > 1 ? 'are' : 'is'} set (without it media stays on local disk)`,
    );
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL?.replace(/\/$/, ''),
    dataDir: path.resolve(e.DATA_DIR),
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    apiKey: e.ONAIR_API_KEY,
    maxUploadBytes: e.MAX_UPLOAD_SIZE,
    ffmpegPath: e.FFMPEG_PATH,
    ffprobePath: e.FFPROBE_PATH,
    redisServerPath: e.REDIS_SERVER_PATH,
    x264Preset: e.X264_PRESET,
    segmentSeconds: e.HLS_SEGMENT_SECONDS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    workers: e.WORKERS,
    jobLockMs: e.JOB_LOCK_MS,
    logLevel: e.LOG_LEVEL,
    secret: e.ONAIR_SECRET,
    playbackTokenTtlSeconds: e.PLAYBACK_TOKEN_TTL_SECONDS,
    retentionDays: e.RETENTION_DAYS,
    registerPerMinute: e.REGISTER_RATE_PER_MINUTE,
    signup: e.SIGNUP,
    originCacheBytes: e.ORIGIN_CACHE_SIZE,
    httpProcesses: e.HTTP_PROCESSES,
    ingest: e.INGEST === 'on',
    rtmpPort: e.RTMP_PORT,
    rtmpHost: e.RTMP_HOST,
    rtmpPublicUrl: e.RTMP_PUBLIC_URL?.replace(/\/$/, ''),
    ingestAdvertiseHost: e.INGEST_ADVERTISE_HOST,
    srt:
      e.SRT_PORT === 'off'
        ? undefined
        : { port: e.SRT_PORT, host: e.SRT_HOST, publicUrl: e.SRT_PUBLIC_URL, latencyMs: e.SRT_LATENCY_MS },
    whip:
      e.WHIP_PORT === 'off'
        ? undefined
        : {
            port: e.WHIP_PORT,
            host: e.WHIP_HOST,
            publicUrl: e.WHIP_PUBLIC_URL?.replace(/\/$/, ''),
            publicIp: e.WHIP_PUBLIC_IP,
            udpPorts: e.WHIP_UDP_PORTS.split('-').map(Number) as [number, number],
            allowLoopback: e.WHIP_ALLOW_LOOPBACK === 'on',
          },
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    reminderOffsetsSeconds: e.REMINDER_OFFSETS.split(',')
      .map(durationSeconds)
      .sort((a, b) => b - a),
    missedMailDelaySeconds: durationSeconds(e.MISSED_MAIL_DELAY),
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE === 'true',
    s3: e.S3_BUCKET
      ? Object.freeze({
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT?.replace(/\/$/, ''),
          region: e.S3_REGION,
          forcePathStyle: e.S3_FORCE_PATH_STYLE
            ? e.S3_FORCE_PATH_STYLE === 'true'
            : e.S3_ENDPOINT !== undefined,
          prefix: e.S3_PREFIX || undefined,
          credentials:
            e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
              ? Object.freeze({
                  accessKeyId: e.AWS_ACCESS_KEY_ID,
                  secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
                  ...(e.AWS_SESSION_TOKEN ? { sessionToken: e.AWS_SESSION_TOKEN } : {}),
                })
              : undefined,
        })
      : undefined,
    live: Object.freeze({
      segmentSeconds: e.LIVE_SEGMENT_SECONDS,
      dvrSeconds: e.LIVE_DVR_SECONDS,
      reconnectGraceSeconds: e.LIVE_RECONNECT_GRACE_SECONDS,
      earlyMinutes: e.LIVE_EARLY_MINUTES,
      passthrough: e.LIVE_PASSTHROUGH === 'auto',
      lowLatency: e.LIVE_LOW_LATENCY === 'on',
      partSeconds: e.LIVE_PART_SECONDS,
      streamsPerWorker: e.LIVE_STREAMS_PER_WORKER,
      lockMs: e.LIVE_LOCK_MS,
    }),
  });
}
