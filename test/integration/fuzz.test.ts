/**
 * Route-by-route fuzzing (fast-check): malformed, oversized and wrong-typed input on every HTTP
 * route of onair, anonymous and with the account's API key. For every request:
 *
 * - no 5xx: bad input is the caller's mistake, a 4xx that says so;
 * - routes that only ever get bad input here (`refuses`) answer 4xx, never 2xx;
 * - the event loop is not stalled: no request costs the server more than CPU_BUDGET_MS of CPU
 *   (read from /proc, so a loaded machine is not mistaken for a slow route), every one answers
 *   within DEADLINE_MS, and /healthz answers 200 right after;
 * - a refused request (4xx) wrote nothing: every table of the database (SQLite or PostgreSQL) and
 *   every object of the media storage (DATA_DIR/media or S3) are as they were.
 *
 * Real fixtures first (an encoded asset; on-demand with an email gate, live and automated events;
 * registrants with their cookies and emailed links; a webhook) so the routes reach their deeper
 * code. The server runs in a child process (test/helpers/fuzz.ts): a stalled one is killed and
 * restarted on the same data, and the route's remaining runs are skipped.
 *
 * Each route first tries its `examples` (inputs that broke it before), then RUNS random ones.
 * FUZZ_SEED=<n> replays a run (the seed is printed with every failure), FUZZ_RUNS=<n> sets the
 * runs per route, FUZZ_COLLECT=1 keeps going after a failure and lists every distinct one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionScopeId } from '../../src/automated/sessions.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { revisionPrefix } from '../../src/media/layout.ts';
import { PlaybackUrls } from '../../src/origin/playback-urls.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { until } from '../helpers/api.ts';
import {
  FuzzServer,
  send,
  WriteWatch,
  writesBetween,
  type RawReply,
  type RawRequest,
} from '../helpers/fuzz.ts';
import { makeSource } from '../helpers/media.ts';
import { startSmtpServer } from '../helpers/smtp.ts';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : crypto.randomInt(2 ** 31 - 1);
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const COLLECT = process.env.FUZZ_COLLECT === '1';
/**
 * CPU time one request may cost the server: one event loop serves every viewer, so a request that
 * computes for longer stalls them all. Measured as CPU time, not wall time, so a loaded machine is
 * not mistaken for a slow route (a normal request costs a few ms).
 */
const CPU_BUDGET_MS = 500;
/** /healthz must answer within this (wall time) right after each request. */
const SLOW_MS = 2000;
/** No answer by then: the server is stalled (or dead) and gets restarted. */
const DEADLINE_MS = 5000;
const SECRET = 'fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const UPLOAD_LIMIT = 2 * 1024 * 1024;
const NOTICE_VERSION = '2026-11';

/** Tables background jobs write on their own: compared by row count only, or not at all. */
const BACKGROUND: Record<string, 'ignore' | 'rows'> = {
  sent_emails: 'ignore',
  webhooks: 'rows',
  // The transcoder updates an accepted upload's row (progress, failure) while later requests run.
  assets: 'rows',
};

// ---------------------------------------------------------------------------------------------
// Fixtures

interface EventFixture {
  readonly id: string;
  /** The 9 digits. */
  readonly webinarId: string;
}

interface Fixtures {
  readonly assetId: string;
  readonly revision: string;
  /** The preview token of /play/<asset>?t=, URL-encoded as the API gives it. */
  readonly previewToken: string;
  /** On demand, behind an email gate (name optional). */
  readonly od: EventFixture;
  readonly live: EventFixture;
  /** Automated: a session every day at 10:00 in Rome, open gate, a CTA and a poll. */
  readonly auto: EventFixture;
  /** Automated: a session every 5 minutes round the clock. */
  readonly jit: EventFixture;
  /** Targets of writing routes (PATCH, end, new stream key), so the fixtures above stay as they are. */
  readonly scratch: EventFixture;
  readonly scratchLive: EventFixture;
  readonly webhookId: string;
  readonly registrantId: string;
  /** `name=value` cookies: the on-demand registrant, the automated registrant, an anonymous session pick. */
  readonly odCookie: string;
  readonly autoCookie: string;
  readonly sessionCookie: string;
  readonly cookieNames: readonly string[];
  /** Personal link tokens, URL-encoded as in the links. */
  readonly meToken: string;
  readonly unsubToken: string;
  readonly joinToken: string;
  /** An upcoming session of the automated event (ISO). */
  readonly sessionAt: string;
  /** Its last session before now (ISO). */
  readonly pastSessionAt: string;
  /** Signed origin prefixes `/s/<hash>/<expires>/<scope>/<id>`: the asset, the on-demand event, a past session. */
  readonly originPrefixes: readonly string[];
  /** Files of the published revision, relative to it. */
  readonly mediaFiles: readonly string[];
}

let server: FuzzServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let watch: WriteWatch;
let work: string;
let fx: Fixtures;

async function call<T>(
  method: string,
  route: string,
  opts: { body?: unknown; cookie?: string; auth?: boolean } = {},
): Promise<{ status: number; json: T; setCookie: string[] }> {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: {
      ...(opts.auth !== false ? { authorization: `Bearer ${server.apiKey}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return {
    status: response.status,
    json: (text ? JSON.parse(text) : {}) as T,
    setCookie: response.headers.getSetCookie().map((c) => c.split(';')[0]!),
  };
}

async function createEvent(body: Record<string, unknown>): Promise<EventFixture> {
  const { json } = await call<{ id: string; webinarId: string }>('POST', '/api/events', { body });
  return { id: json.id, webinarId: json.webinarId.replace(/\D/g, '') };
}

async function setUp(): Promise<Fixtures> {
  const client = new OnairClient(server.url, server.apiKey);
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 2 });
  const asset = await client.waitForAsset((await client.upload(source, 'talk')).id, undefined, 200);
  expect(asset.status, asset.error ?? '').toBe('ready');
  const revision = /\/(rev_[A-Za-z0-9]+)\//.exec(asset.playback!.master)![1]!;
  const previewToken = new URL(asset.playback!.player).searchParams.get('t')!;

  const gate = {
    emailRequired: true,
    fields: { name: 'optional', company: 'off' },
    privacyNoticeUrl: 'https://example.com/privacy',
    privacyNoticeVersion: NOTICE_VERSION,
  };
  const od = await createEvent({ title: 'Pricing', type: 'on_demand', assetId: asset.id, gate });
  const live = await createEvent({ title: 'Launch', type: 'live' });
  const interactions = {
    ctas: [
      { id: 'buy', headline: 'Buy', buttonLabel: 'Buy', url: 'https://example.com/buy', start: 0, end: 2 },
    ],
    polls: [{ id: 'size', question: 'Team size?', options: ['small', 'large'], start: 0, end: 2 }],
  };
  const auto = await createEvent({
    title: 'Growth',
    type: 'automated',
    assetId: asset.id,
    schedule: { kind: 'recurring', start: '2026-01-01T10:00', rrule: 'FREQ=DAILY', timezone: 'Europe/Rome' },
    interactions,
  });
  // "Just in time" round the clock: its own route, as its pages have been costly to compute
  // (every info.json enumerated 400 days of 5-minute sessions) and a stall ends a route's runs.
  const jit = await createEvent({
    title: 'Always on',
    type: 'automated',
    assetId: asset.id,
    schedule: { kind: 'jit', everyMinutes: 5, openingHours: { from: '00:00', to: '24:00' }, timezone: 'UTC' },
    interactions,
  });
  const scratch = await createEvent({ title: 'Scratch', type: 'on_demand', assetId: asset.id });
  const scratchLive = await createEvent({ title: 'Scratch live', type: 'live' });
  const { json: hook } = await call<{ id: string }>('POST', '/api/webhooks', {
    // An address literal: webhook targets must resolve, and this machine may have no DNS.
    body: { url: 'https://93.184.216.34/onair-fuzz-hook' },
  });

  const odRegistration = await call<{ selfServiceUrl: string | null }>(
    'POST',
    `/w/${od.webinarId}/register`,
    {
      auth: false,
      body: { email: 'ada@example.com', name: 'Ada', noticeVersion: NOTICE_VERSION },
    },
  );
  const odCookie = odRegistration.setCookie[0]!;
  const meToken = /\/me\/([^/?#]+)/.exec(odRegistration.json.selfServiceUrl ?? '')![1]!;
  const { json: registrants } = await call<{ registrants: { id: string }[] }>(
    'GET',
    `/api/events/${od.id}/registrants`,
  );

  const { json: autoInfo } = await call<{ sessions: { startsAt: string; state: string }[] }>(
    'GET',
    `/w/${auto.webinarId}/info.json`,
    { auth: false },
  );
  const upcoming = autoInfo.sessions.filter((s) => s.state === 'upcoming');
  const sessionAt = upcoming[0]!.startsAt;
  const autoRegistration = await call('POST', `/w/${auto.webinarId}/register`, {
    auth: false,
    body: { email: 'grace@example.com', sessionAt, noticeVersion: NOTICE_VERSION },
  });
  const pick = await call('POST', `/w/${auto.webinarId}/session`, {
    auth: false,
    body: { sessionAt: upcoming[1]?.startsAt ?? sessionAt },
  });
  // The confirmation email carries the personal links (join, unsubscribe).
  const mail = await until('the confirmation email', () =>
    smtp.mails.find((m) => m.to === 'grace@example.com'),
  );
  const mailText = `${mail.parsed.text ?? ''}\n${typeof mail.parsed.html === 'string' ? mail.parsed.html : ''}\n${mail.raw}`;
  const unsubToken = /\/u\/([A-Za-z0-9%._~-]+)/.exec(mailText)![1]!;
  const joinToken = /[?&]k=([A-Za-z0-9%._~-]+)/.exec(mailText)![1]!;

  // The last session before now: its replay, served by the origin from the clock.
  const now = Date.now();
  const { json: past } = await call<{ sessions: { startsAt: string }[] }>(
    'GET',
    `/api/events/${auto.id}/sessions?from=${new Date(now - 3 * 86_400_000).toISOString()}&to=${new Date(now).toISOString()}`,
  );
  const pastSessionAt = past.sessions.at(-1)!.startsAt;
  const urls = new PlaybackUrls(playbackKey(SECRET), 3600);
  const expires = urls.expiresAt();
  const prefixOf = (url: string) => new URL(url).pathname.split('/').slice(0, 6).join('/');
  const { json: odInfo } = await call<{ playback: { master: string } | null }>(
    'GET',
    `/w/${od.webinarId}/info.json`,
    { auth: false, cookie: odCookie },
  );
  const originPrefixes = [
    prefixOf(asset.playback!.master),
    prefixOf(odInfo.playback!.master),
    prefixOf(
      urls.url(
        server.url,
        'e',
        sessionScopeId(auto.webinarId, Date.parse(pastSessionAt)),
        revision,
        'master.m3u8',
        expires,
      ),
    ),
  ];
  // Through the server's storage: DATA_DIR/media, or its prefix in the S3 bucket.
  const published = revisionPrefix(asset.id, revision);
  const mediaFiles = (await watch.list(published)).map((key) => key.slice(published.length + 1));
  return {
    assetId: asset.id,
    revision,
    previewToken: encodeURIComponent(previewToken),
    od,
    live,
    auto,
    jit,
    scratch,
    scratchLive,
    webhookId: hook.id,
    registrantId: registrants.registrants[0]!.id,
    odCookie,
    autoCookie: autoRegistration.setCookie[0]!,
    sessionCookie: pick.setCookie[0]!,
    cookieNames: [
      ...new Set(
        [odCookie, autoRegistration.setCookie[0]!, pick.setCookie[0]!]
          .map((c) => c.split('=')[0]!)
          .concat([od, auto, live].flatMap((e) => [`onair_w_${e.webinarId}`, `onair_s_${e.webinarId}`])),
      ),
    ],
    meToken,
    unsubToken,
    joinToken,
    sessionAt,
    pastSessionAt,
    originPrefixes,
    mediaFiles,
  };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-fuzz-'));
  smtp = await startSmtpServer();
  server = await FuzzServer.start({
    INGEST: 'off',
    ONAIR_SECRET: SECRET,
    SMTP_URL: smtp.url,
    // The registration route is fuzzed: its rate limit would hide everything behind a 429.
    REGISTER_RATE_PER_MINUTE: '1000000',
    MAX_UPLOAD_SIZE: '2MB',
    REMINDER_OFFSETS: '24h',
  });
  watch = await WriteWatch.open(server.serverEnv);
  const empty = await watch.snapshot();
  fx = await setUp();
  // The watch sees writes: the setup's events and registrants, and the encoded recording.
  const written = writesBetween(empty, await watch.snapshot()).join('\n');
  expect(written).toMatch(/^table events: 0 -> \d+ rows$/m);
  expect(written).toMatch(/^table registrants: 0 -> \d+ rows$/m);
  expect(written).toMatch(/^new file media\/assets\/.*\/master\.m3u8$/m);
  // Let the setup's background jobs (mails, webhook deliveries) settle before watching writes.
  await new Promise((r) => setTimeout(r, 1000));
  process.stdout.write(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it), ${RUNS} runs per route\n`);
}, 120_000);

afterAll(async () => {
  await watch?.close();
  await server?.close();
  await smtp?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Building blocks: strings, values, bodies, queries, paths, headers, cookies

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as a browser sends it). */
const pct = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
/** What Node lets into a header value: tab, printable ASCII and Latin-1. */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const truncate = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s);

const NASTY = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDC00y',
  '\uDBFF\uDBFF',
  '\uFFFE',
  '\u202Eevil',
  '💥',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-1',
  '1e308',
  '0x1F',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%00',
  '%E0%A4%A',
  '%',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '"; DROP TABLE events; --',
  '${7*7}{{7*7}}',
  'javascript:alert(1)',
  'http://127.0.0.1:6379/',
  'ev_AAAAAAAAAAAAAAAA',
  'as_AAAAAAAAAAAAAAAA',
  '2026-13-45T25:61:61Z',
  '9999-12-31T23:55:00Z',
  '0000-01-01T00:00:00Z',
  '2026-02-29T00:00:00Z',
];

const hugeString = fc
  .tuple(fc.integer({ min: 5_000, max: 40_000 }), fc.constantFrom('a', '\u0000', 'é', '\uD800', '💥', ' '))
  .map(([n, c]) => c.repeat(n));

const junkString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: hugeString },
);

/** Any JSON value, leaning to the awkward ones. */
const junkValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    junkString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, 5e-324),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(junkString, fc.constantFrom('__proto__', 'constructor')), tie('value'), {
      maxKeys: 4,
    }),
  ),
})).value;

/** JSON text fetched at the limits: deep nesting, long arrays, many keys, odd numbers and escapes. */
const BIG_ARRAY_OVER_LIMIT = `[${Array.from({ length: 100_000 }, () => '0').join(',')}]`;
/** Raw JSON arrays at the limits: deep nesting, 32k items within the 64 kB body limit, 10^5 items over it. */
const rawArray: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 1_000, max: 30_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1_000, max: 32_000 }).map((n) => `[${Array.from({ length: n }, () => '0').join(',')}]`),
  fc.integer({ min: 1_000, max: 10_000 }).map((n) => `[${Array.from({ length: n }, () => '{}').join(',')}]`),
  fc.constant(BIG_ARRAY_OVER_LIMIT),
);
/** Raw JSON numbers and strings that JSON.stringify would not write (overflow, escapes of lone surrogates and NUL). */
const RAW_NUMBERS = ['1e400', '-1e400', '123456789012345678901234567890', '-0', '5e-324'];
const RAW_STRINGS = ['"\\ud800"', '"\\udc00\\ud800"', '"a\\u0000b"', '"\\u0000"'];
/** Raw JSON that is no object: never a valid body of any route here. */
const rawNonObject: fc.Arbitrary<string> = fc.oneof(
  rawArray,
  fc.constantFrom(...RAW_NUMBERS, ...RAW_STRINGS),
);
/** Raw JSON objects: deep nesting, many keys, prototype-pollution keys. */
const rawObject: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: 500, max: 9_000 }).map((n) => '{"a":'.repeat(n) + '0' + '}'.repeat(n)),
  fc
    .integer({ min: 100, max: 5_000 })
    .map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`),
  fc.constantFrom('{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}'),
);
const rawFragment: fc.Arbitrary<string> = fc.oneof({ weight: 2, arbitrary: rawNonObject }, rawObject);

/** A value that is raw JSON text when serialised (nesting and sizes JSON.stringify cannot build cheaply). */
class Raw {
  constructor(readonly json: string) {}
}

function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.json);
      return `@@RAW${raws.length - 1}@@`;
    }
    return v;
  });
  return (text ?? 'null').replace(/"@@RAW(\d+)@@"/g, (_m, i: string) => raws[Number(i)]!);
}

/** Prototype-pollution keys, spliced in as own keys (an object literal would set the prototype instead). */
const POLLUTION =
  '"__proto__":{"polluted":true,"emailRequired":false,"isAdmin":true},"constructor":{"prototype":{"polluted":true}}';
function withPollution(json: string): string {
  if (!json.startsWith('{')) return json;
  return json === '{}' ? `{${POLLUTION}}` : `{${POLLUTION},${json.slice(1)}`;
}

const NOT_JSON = [
  'not json',
  '{',
  '{"a":',
  '[1,2',
  "{'a':1}",
  '{"a":1,}',
  '{"a":1}garbage',
  '\u0000',
  'NaN',
  '{"a":NaN}',
  '{"a":undefined}',
  '/*c*/{}',
  '"str"',
  '123',
  'null',
  'true',
  'a=b&c=d',
  '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n',
];
/** Bodies a JSON parser may fairly read as `{}` (empty, blank, a byte-order mark): odd, not bad. */
const LENIENT_JSON = ['', ' ', '\uFEFF{}'];
const BAD_UTF8 = [
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]),
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
];

interface Body {
  readonly type?: string;
  readonly encoding?: string;
  readonly data: string | Buffer;
  /** What the body says before its content encoding, for the report. */
  readonly shown?: string;
  /** What is wrong with it, when it was made wrong on purpose. */
  readonly defect?: string | undefined;
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/json; charset=UTF-16',
  'application/json; charset=latin1',
  'application/json; charset=utf-32',
  'application/json; charset=',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/jsonx',
  'APPLICATION/JSON',
  '*/*',
  '',
  'application/octet-stream',
  ';;;',
];
/** 20 MB of spaces, gzipped to a few kB: the parser must stop at its limit while inflating. */
const GZIP_BOMB = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));

/** A request body and what is wrong with it (for grouping findings). */
interface Json {
  readonly data: string | Buffer;
  readonly defect?: string;
}

/** How a JSON text goes on the wire: its content type and content encoding, right or wrong. */
function wire(json: fc.Arbitrary<string | Buffer | Json>): fc.Arbitrary<Body> {
  return fc
    .tuple(
      json.map((j): Json => (typeof j === 'string' || Buffer.isBuffer(j) ? { data: j } : j)),
      fc.oneof(
        { weight: 8, arbitrary: fc.constant('application/json') },
        { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      fc.oneof(
        { weight: 10, arbitrary: fc.constant('') },
        {
          weight: 1,
          arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'gzip-raw', 'x-unknown', 'identity', 'bomb'),
        },
      ),
    )
    .map(([{ data, defect }, type, encoding]): Body => {
      const bytes = Buffer.from(data);
      const shown = typeof data === 'string' ? data : data.toString('latin1');
      switch (encoding) {
        case 'gzip':
          return { type, encoding, data: zlib.gzipSync(bytes), shown, defect };
        case 'deflate':
          return { type, encoding, data: zlib.deflateSync(bytes), shown, defect };
        case 'br':
          return { type, encoding, data: zlib.brotliCompressSync(bytes), shown, defect };
        case 'gzip-raw':
          return { type, encoding: 'gzip', data: bytes, defect: 'not gzip' };
        case 'bomb':
          return {
            type,
            encoding: 'gzip',
            data: GZIP_BOMB,
            shown: '20 MB of spaces, gzipped',
            defect: 'gzip bomb',
          };
        case '':
          return { type, data, defect };
        case 'identity':
          return { type, encoding, data: bytes, defect };
        default:
          return { type, encoding, data: bytes, defect: `encoding ${encoding}` };
      }
    });
}

type FieldKind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/** Values of other JSON types than `kind` wants (null only when the field is not nullable). */
function otherTypes(kind: FieldKind, nullable: boolean): unknown[] {
  const all: Record<FieldKind, unknown[]> = {
    string: [123, -1, 1.5, true, ['a'], { a: 1 }],
    number: ['1', true, [1], { n: 1 }],
    boolean: ['true', 1, 0, [true], {}],
    object: ['x', 1, true, [], [{}]],
    array: ['x', 1, true, {}],
  };
  return nullable ? all[kind] : [null, ...all[kind]];
}

/**
 * A bad value for a field that wants `kind`: the field's own bad values, other types, NUL bytes and
 * lone surrogates, and raw JSON at the limits (deep nesting, 32k and 10^5-item arrays, overflowing numbers).
 */
function badValue(
  kind: FieldKind,
  specific: readonly unknown[],
  opts: { nullable?: boolean } = {},
): fc.Arbitrary<unknown> {
  const raw = fc.oneof(
    rawArray,
    ...(kind === 'object' ? [] : [rawObject]),
    fc.constantFrom(...(kind === 'number' ? ['1e400', '-1e400'] : RAW_NUMBERS), ...RAW_STRINGS),
  );
  const text = kind === 'string' ? ['\u0000', 'a\u0000b', '\uD800', 'x\uDC00y'] : ['\u0000'];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...specific) },
    { weight: 2, arbitrary: fc.constantFrom(...otherTypes(kind, opts.nullable ?? false), ...text) },
    { weight: 1, arbitrary: raw.map((j) => new Raw(j)) },
  );
}

/**
 * A JSON body that is certainly invalid: a valid base with one or two fields made bad (and maybe
 * prototype-pollution keys), or junk that is not the right shape at all.
 */
function badJson(
  base: fc.Arbitrary<Record<string, unknown>>,
  bad: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Json> {
  const keys = Object.keys(bad);
  const defective = fc
    .tuple(base, fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 2 }), fc.boolean())
    .chain(([b, chosen, pollute]) =>
      fc.tuple(...chosen.map((k) => bad[k]!)).map((values): Json => {
        const body: Record<string, unknown> = { ...b };
        chosen.forEach((k, i) => (body[k] = values[i]));
        const json = toJson(body);
        return {
          data: pollute ? withPollution(json) : json,
          defect: chosen.map((k, i) => `${k}: ${kindOf(values[i])}`).join(', '),
        };
      }),
    );
  return fc.oneof(
    { weight: 6, arbitrary: defective },
    { weight: 1, arbitrary: rawNonObject.map((data) => ({ data, defect: 'raw JSON at the top' })) },
    { weight: 1, arbitrary: fc.constantFrom(...NOT_JSON).map((data) => ({ data, defect: 'not JSON' })) },
    {
      weight: 1,
      arbitrary: junkValue
        .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
        .map((v) => ({ data: toJson(v), defect: 'not an object' })),
    },
  );
}

/** What kind of bad value this is, in a few words (findings are grouped by it). */
function kindOf(value: unknown): string {
  if (value instanceof Raw)
    return value.json.length > 60 ? `raw JSON (${value.json.length} chars)` : value.json;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'a NUL byte';
    if (LONE_SURROGATE.test(value)) return 'a lone surrogate';
    if (value.length > 60) return `${value.length} chars`;
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return truncate(JSON.stringify(value), 90);
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Any JSON-ish body, valid or not (routes that do not read one, or where a valid one is fine too). */
const anyJson: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: junkValue.map((v) => ({ data: toJson(v) })) },
  { weight: 2, arbitrary: rawFragment.map((data) => ({ data })) },
  { weight: 1, arbitrary: fc.constantFrom(...NOT_JSON, ...LENIENT_JSON).map((data) => ({ data })) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_UTF8).map((data) => ({ data })) },
  { weight: 1, arbitrary: fc.constant({ data: withPollution('{}') }) },
);

const QUERY_RAW = [
  '%',
  '%E0%A4%A',
  '%00',
  '%zz',
  '%ED%A0%80',
  '+',
  '%2B',
  '&',
  '==',
  '1e20',
  '1e400',
  '9007199254740993',
  '-1',
  '-0',
  '0',
  '1',
  '200',
  '201',
  '500',
  '501',
  '1.5',
  '0x10',
  '1e3',
  '%205',
  '',
  'Infinity',
  'NaN',
  '9999-12-31T23%3A59%3A59Z',
  '0000-01-01T00%3A00%3A00Z',
  '2026-01-01T00%3A00%3A00%2B14%3A00',
  '1970-01-01T00%3A00%3A00.000000001Z',
];
const queryValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...QUERY_RAW) },
  { weight: 3, arbitrary: junkString.map(pct) },
  { weight: 1, arbitrary: fc.integer({ min: 2_000, max: 15_000 }).map((n) => 'a'.repeat(n)) },
);

/** A query string: known keys and odd ones, repeated keys (arrays), odd encodings, huge values. */
function queryArb(keys: readonly string[], values: fc.Arbitrary<string> = queryValue): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...(keys.length > 0 ? keys : ['q'])) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('__proto__', 'constructor', 'a[b]', 'a[]', '', '%', '%E0%A4%A', '%00'),
    },
  );
  return fc
    .array(fc.tuple(key, fc.oneof({ weight: 4, arbitrary: values }, { weight: 1, arbitrary: queryValue })), {
      maxLength: 4,
    })
    .map((pairs) => (pairs.length > 0 ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
}

/** Path segments as sent: traversal, encoded NUL, broken %-encoding, over-long, wrong kinds of id. */
const RAW_SEGMENTS = [
  '',
  '.',
  '..',
  '%2e%2e',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fonair.sqlite',
  '..%5c..%5c',
  '%00',
  'a%00b',
  '%E0%A4%A',
  '%',
  '%%',
  '%zz',
  '%C0%AF',
  '%ED%A0%80',
  '%F4%90%80%80',
  '%FF',
  '\u00e9',
  'ev_AAAAAAAAAAAAAAAA',
  'as_AAAAAAAAAAAAAAAA',
  'wh_AAAAAAAAAAAAAAAA',
  'rg_AAAAAAAAAAAAAAAA',
  '123456789',
  '000000000',
  '012345678',
  '12345678a',
  '1234567890',
  '-1',
  '1e9',
  'null',
  '__proto__',
  'constructor',
  '%20123456789',
  '123%0A456789',
];
const junkSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
  { weight: 2, arbitrary: junkString.map(pct) },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 8_000 }).map((n) => 'a'.repeat(n)) },
);

/** A real id (to reach deep code), the same id bent, or junk. */
function idArb(valid: readonly string[], junkWeight = 2): fc.Arbitrary<string> {
  const arbs: fc.WeightedArbitrary<string>[] = [{ weight: junkWeight, arbitrary: junkSegment }];
  if (valid.length > 0) {
    arbs.push({ weight: 3, arbitrary: fc.constantFrom(...valid) });
    arbs.push({ weight: 1, arbitrary: bentId(valid) });
  }
  return fc.oneof(...arbs);
}

/** A real id, altered so it names nothing: suffixes, case, truncation, encoded tails. */
function bentId(valid: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.constantFrom(...valid),
      fc.constantFrom(
        '%00',
        'x',
        '%2f..',
        '..',
        '%E0%A4%A',
        '%20',
        'upper',
        'cut',
        'a'.repeat(5000),
        '.json',
      ),
    )
    .map(([id, bend]) =>
      bend === 'upper' ? id.toUpperCase() : bend === 'cut' ? id.slice(0, -1) : `${id}${bend}`,
    );
}

const webinarIds = (events: readonly EventFixture[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...events.map((e) => e.webinarId)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...events.map((e) => e.webinarId))
        .map((d) => `${d.slice(0, 3)}-${d.slice(3, 6)}-${d.slice(6)}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...events.map((e) => e.webinarId))
        .map((d) => `${d.slice(0, 3)}%20${d.slice(3, 6)}%20${d.slice(6)}`),
    },
    { weight: 1, arbitrary: bentId(events.map((e) => e.webinarId)) },
    { weight: 3, arbitrary: junkSegment },
  );

type Auth = 'api' | 'viewer' | 'operator';

/** The Authorization header: mostly the real key on API routes (to get past it), mostly none for viewers. */
function authArb(kind: Auth): fc.Arbitrary<string | undefined> {
  const key = () => server.apiKey;
  const bogus = fc.oneof(
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwYXNz',
      'Token abc',
      'Bearer onair_0000000000000000000000000000000000',
      'Bearer %E0%A4%A',
      'Bearer \u00e9\u00ff',
      `Bearer ${'a'.repeat(8_000)}`,
      'Bearer a b',
    ),
    fc.constantFrom('flip', 'extra', 'lower', 'cut').map((how) => {
      const k = key();
      if (how === 'flip') return `Bearer ${k.slice(0, -1)}${k.endsWith('A') ? 'B' : 'A'}`;
      if (how === 'extra') return `Bearer ${k} ${k}`;
      if (how === 'lower') return `bearer ${k.toLowerCase()}`;
      return `Bearer ${k.slice(0, 8)}`;
    }),
    junkString.map((s) => headerSafe(`Bearer ${s}`).slice(0, 9_000)),
  );
  const valid =
    kind === 'operator'
      ? fc.oneof(
          fc.constant(undefined).map(() => `Bearer ${server.operatorKey}`),
          fc
            .string({ maxLength: 40 })
            .map((user) => `Basic ${Buffer.from(`${user}:${server.operatorKey}`).toString('base64')}`),
        )
      : fc.constant(undefined).map(() => `Bearer ${key()}`);
  return kind === 'api' || kind === 'operator'
    ? fc.oneof(
        { weight: 5, arbitrary: valid },
        { weight: 2, arbitrary: bogus },
        { weight: 1, arbitrary: fc.constant(undefined) },
      )
    : fc.oneof(
        { weight: 5, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: valid },
        { weight: 1, arbitrary: bogus },
      );
}

/** Cookies: real ones, broken %-encoding under the real names, tampered signatures, huge, many. */
function cookieArb(real: readonly string[]): fc.Arbitrary<string | undefined> {
  const names = () => fx.cookieNames;
  const name = fc.integer({ min: 0, max: 1_000 }).map((i) => names()[i % names().length]!);
  const broken = fc
    .tuple(
      name,
      fc.constantFrom(
        '%E0%A4%A',
        '%',
        '%%',
        '%zz',
        '%ED%A0%80',
        '%00',
        '',
        '=',
        '"',
        '""',
        '"%E0"',
        'a|9999999999.AAAA',
      ),
    )
    .map(([n, v]) => `${n}=${v}`);
  const tampered = fc
    .tuple(fc.constantFrom(...real), fc.constantFrom('flip', 'cut', 'dot', 'pct'))
    .map(([c, how]) => {
      if (how === 'flip') return `${c.slice(0, -1)}${c.endsWith('A') ? 'B' : 'A'}`;
      if (how === 'cut') return c.slice(0, c.indexOf('=') + 5);
      if (how === 'dot') return `${c}.`;
      return `${c}%`;
    });
  const huge = fc
    .tuple(name, fc.integer({ min: 1_000, max: 12_000 }))
    .map(([n, len]) => `${n}=${'a'.repeat(len)}`);
  const many = fc
    .tuple(fc.integer({ min: 50, max: 1_000 }), fc.option(broken, { nil: undefined }))
    .map(([count, extra]) =>
      [...Array.from({ length: count }, (_, i) => `c${i}=v${i}`), ...(extra ? [extra] : [])].join('; '),
    );
  const junk = junkString.map((s) => headerSafe(s).slice(0, 8_000));
  const twice = fc.tuple(broken, fc.constantFrom(...real)).map(([b, r]) => `${b}; ${r}`);
  // Every cookie name onair uses, each with a broken value: whichever event the path names, its cookie is bad.
  const allBroken = fc.constantFrom('%E0%A4%A', '%', '%ED%A0%80', '%00', 'a|9999999999.AAAA', '').map((v) =>
    names()
      .map((n) => `${n}=${v}`)
      .join('; '),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...real) },
    { weight: 2, arbitrary: broken },
    { weight: 2, arbitrary: allBroken },
    { weight: 1, arbitrary: tampered },
    { weight: 1, arbitrary: huge },
    { weight: 1, arbitrary: many },
    { weight: 1, arbitrary: junk },
    { weight: 1, arbitrary: twice },
  );
}

/** Headers around the request: a foreign Host, forwarded-for junk, ranges, conditionals, odd Accept. */
const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        'evil.example',
        'evil.example:1',
        'evil.example:99999',
        '[::1]',
        '127.0.0.1:80@evil.example',
        'a'.repeat(300),
        '',
        'évil.example',
        'evil.example/path?x',
        'localhost:0',
      )
      .map((host) => ({ host })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'),
        fc.oneof(
          fc.constantFrom(
            '1.2.3.4',
            'https',
            'evil.example',
            '999.999.999.999',
            'unknown',
            ',,,',
            '::1, 1.2.3.4',
          ),
          junkString.map(headerSafe),
        ),
      )
      .map(([k, v]) => ({ [k]: v.slice(0, 4_000) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'range',
          'if-none-match',
          'if-modified-since',
          'accept',
          'accept-encoding',
          'origin',
          'expect',
        ),
        fc.oneof(
          fc.constantFrom(
            'bytes=0-0',
            'bytes=-1',
            'bytes=99999999999999999999-',
            'bytes=5-1',
            'bytes=0-1,2-3',
            'bytes=-0',
            'bytes=',
            '*',
            'W/"x"',
            '"x", *',
            'not a date',
            'text/html;q=x',
            'gzip;q=2',
            '100-continue',
            'https://evil.example',
          ),
          junkString.map(headerSafe),
        ),
      )
      .map(([k, v]) => ({ [k]: v.slice(0, 4_000) })),
  },
);

// ---------------------------------------------------------------------------------------------
// Requests

interface Shape {
  readonly method: fc.Arbitrary<string>;
  /** The path without its query, as sent. */
  readonly path: fc.Arbitrary<string>;
  readonly query?: fc.Arbitrary<string>;
  readonly auth: Auth;
  readonly cookie?: fc.Arbitrary<string | undefined>;
  readonly body?: fc.Arbitrary<Body | undefined>;
}

type FuzzRequest = RawRequest & { readonly label: string; readonly defect?: string | undefined };

function describeRequest(r: RawRequest, shown?: string, defect?: string): string {
  const headers = Object.entries(r.headers ?? {})
    .map(([k, v]) => {
      let value = typeof v === 'string' ? v : v.join(', ');
      if (k === 'authorization' && value === `Bearer ${server.apiKey}`) value = 'Bearer <api key>';
      return `${k}: ${truncate(JSON.stringify(value), 120)}`;
    })
    .join('; ');
  const text =
    shown ?? (r.body === undefined || typeof r.body === 'string' ? r.body : r.body.toString('latin1'));
  const body =
    r.body === undefined
      ? ''
      : ` body(${r.body.length} ${typeof r.body === 'string' ? 'chars' : 'bytes'}${r.chunked ? ', chunked' : ''}${
          shown !== undefined ? ', before encoding' : ''
        }): ${truncate(JSON.stringify(text), 200)}${defect ? ` {bad: ${defect}}` : ''}`;
  return `${r.method} ${truncate(r.path, 200)} [${headers}]${body}`;
}

function requestArb(shape: Shape): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      method: shape.method,
      path: shape.path,
      query: shape.query ?? fc.constant(''),
      auth: authArb(shape.auth),
      cookie: shape.cookie ?? fc.constant(undefined),
      body:
        shape.body ??
        fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: wire(anyJson) }),
      extra: extraHeaders,
    })
    .map(({ method, path: p, query, auth, cookie, body, extra }) => {
      const headers: Record<string, string> = { ...extra };
      if (auth !== undefined) headers.authorization = auth;
      if (cookie !== undefined) headers.cookie = cookie;
      if (body?.type !== undefined) headers['content-type'] = body.type;
      if (body?.encoding) headers['content-encoding'] = body.encoding;
      const request: RawRequest = {
        method,
        path: `${p}${query}`,
        headers,
        ...(body ? { body: body.data } : {}),
      };
      const label = describeRequest(request, body?.shown, body?.defect);
      return Object.assign(request, { label, defect: body?.defect, [fc.toStringMethod]: () => label });
    });
}

const GET = fc.oneof(
  { weight: 6, arbitrary: fc.constant('GET') },
  { weight: 1, arbitrary: fc.constant('HEAD') },
);
const POST = fc.constant('POST');

// ---------------------------------------------------------------------------------------------
// The routes

interface Route {
  readonly name: string;
  readonly build: () => fc.Arbitrary<FuzzRequest>;
  /** Every input generated for this route is bad: it must be refused (4xx), never accepted. */
  readonly refuses?: boolean;
  readonly runs?: number;
  /** Inputs tried before the random ones, every run: the ones that have broken this route before. */
  readonly examples?: () => FuzzRequest[];
}

/** A hand-written input (for `examples`), described like the generated ones. */
function example(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  defect?: string,
): FuzzRequest {
  const request: RawRequest = {
    method,
    path,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  };
  const label = describeRequest(request, undefined, defect);
  return Object.assign(request, { label, defect, [fc.toStringMethod]: () => label });
}
const apiKey = () => ({ authorization: `Bearer ${server.apiKey}` });
/** Every cookie name onair uses, each with broken %-encoding. */
const brokenCookies = () => ({ cookie: fx.cookieNames.map((n) => `${n}=%E0%A4%A`).join('; ') });

const ids = () => ({
  events: [fx.od.id, fx.live.id, fx.auto.id],
  webinars: [fx.od, fx.live, fx.auto],
});

/** Bodies of POST /api/events and PATCH /api/events/:id: a valid event with fields made bad. */
function eventBody(forPatch: boolean): fc.Arbitrary<Json> {
  const base = forPatch
    ? fc.constant({})
    : fc.constantFrom<Record<string, unknown>>(
        { title: 'T', type: 'on_demand', assetId: fx.assetId },
        { title: 'T', type: 'live' },
        {
          title: 'T',
          type: 'automated',
          assetId: fx.assetId,
          schedule: { kind: 'once', timezone: 'UTC', startsAt: '2030-01-01T10:00:00Z' },
        },
      );
  const gate = (extra: Record<string, unknown>) => ({
    emailRequired: true,
    privacyNoticeUrl: 'https://example.com/p',
    privacyNoticeVersion: '1',
    ...extra,
  });
  const bad: Record<string, fc.Arbitrary<unknown>> = {
    title: badValue('string', ['', '   ', 'a'.repeat(201), 'a\u0000b', '\uD800x', [['t']]]),
    description: badValue('string', ['a'.repeat(5001), 'a\u0000b', '\uDFFF', 42]),
    type: badValue('string', ['webinar', 'LIVE', '', ['live'], 'on_demand\u0000']),
    assetId: badValue(
      'string',
      ['as_AAAAAAAAAAAAAAAA', 'x'.repeat(5000), '\u0000', '../etc', 42, { id: fx.assetId }],
      { nullable: true },
    ),
    startsAt: badValue('string', [
      'tomorrow',
      '2026-13-01T00:00:00Z',
      '2026-02-30T10:00:00Z',
      '',
      1767225600000,
    ]),
    replayExpiresAt: badValue('string', ['never', '2026-02-30T10:00:00Z', 0, 'yesterday'], {
      nullable: true,
    }),
    gate: badValue(
      'object',
      [
        'yes',
        1,
        [],
        { emailRequired: 'yes' },
        { emailRequired: true },
        gate({ privacyNoticeUrl: 'javascript:alert(1)' }),
        gate({ privacyNoticeUrl: 'data:text/html,<script>alert(1)</script>' }),
        gate({ privacyNoticeVersion: 'v'.repeat(41) }),
        gate({ privacyNoticeVersion: '1\u0000' }),
        gate({ fields: { name: 'sometimes' } }),
        gate({ fields: 'all' }),
      ],
      { nullable: true },
    ),
    schedule: badValue('object', [
      { kind: 'weekly', timezone: 'UTC' },
      { kind: 'once', timezone: 'UTC', startsAt: 'soon' },
      { kind: 'once', timezone: 'Mars/Olympus', startsAt: '2030-01-01T10:00:00Z' },
      { kind: 'jit', timezone: 'UTC', everyMinutes: 1, openingHours: { from: '00:00', to: '24:00' } },
      { kind: 'jit', timezone: 'UTC', everyMinutes: 5, openingHours: { from: '10:00', to: '09:00' } },
      { kind: 'jit', timezone: 'UTC', everyMinutes: 5.5, openingHours: { from: '99:99', to: '24:00' } },
      { kind: 'recurring', timezone: 'UTC', start: '2026-13-40T25:00', rrule: 'FREQ=DAILY' },
      { kind: 'recurring', timezone: 'UTC', start: '2026-01-01T10:00', rrule: 'FREQ=SECONDLY' },
      { kind: 'recurring', timezone: 'UTC', start: '2026-01-01T10:00', rrule: 'FREQ=DAILY;COUNT=0' },
      { kind: 'recurring', timezone: 'UTC', start: '2026-01-01T10:00', rrule: 'FREQ=DAILY;INTERVAL=-1' },
      { kind: 'recurring', timezone: 'UTC', start: '2026-01-01T10:00', rrule: 'FREQ=DAILY;BYDAY=XX' },
      { kind: 'on_demand', timezone: 'UTC', replayDays: -1 },
      { kind: 'on_demand', timezone: 'UTC', blackoutDates: ['tomorrow'] },
      { kind: 'on_demand', timezone: 'x'.repeat(65) },
      { kind: 'on_demand', timezone: 'UTC\u0000' },
    ]),
    interactions: badValue('object', [
      { ctas: 'x' },
      { ctas: [{ id: 'a b', headline: 'h', buttonLabel: 'b', url: 'https://e.x', start: 0, end: 1 }] },
      { ctas: [{ id: 'a', headline: 'h', buttonLabel: 'b', url: 'javascript:alert(1)', start: 0, end: 1 }] },
      { ctas: [{ id: 'a', headline: 'h', buttonLabel: 'b', url: 'https://e.x', start: 5, end: 1 }] },
      { polls: [{ id: 'p', question: 'q', options: ['only one'], start: 0, end: 1 }] },
      { polls: [{ id: 'p', question: 'q\u0000', options: ['a', 'b'], start: 0, end: 1 }] },
      { chat: [{ id: 'c', at: -1, author: 'a', text: 't' }] },
      {
        ctas: [{ id: 'd', headline: 'h', buttonLabel: 'b', url: 'https://e.x', start: 0, end: 1 }],
        polls: [{ id: 'd', question: 'q', options: ['a', 'b'], start: 0, end: 1 }],
      },
    ]),
    ...(forPatch
      ? {
          ended: badValue('boolean', ['yes', 1, 'true']),
          streamKeyDisabled: badValue('boolean', ['no', 0, 'false']),
        }
      : {}),
  };
  const defective = badJson(base, bad);
  if (!forPatch) return defective;
  // Changes that would leave the event broken: an on-demand event without its recording, an
  // automated one without a schedule.
  const broken = fc
    .constantFrom('{"assetId":null}', '{"type":"automated"}', '{"type":"on_demand","assetId":null}')
    .map((data) => ({ data, defect: `leaves the event inconsistent: ${data}` }));
  return fc.oneof({ weight: 6, arbitrary: defective }, { weight: 1, arbitrary: broken });
}

const registrationBase = () =>
  fc.constantFrom<Record<string, unknown>>(
    { email: 'fuzz@example.com', noticeVersion: NOTICE_VERSION, name: 'Fuzz' },
    { email: 'fuzz@example.com', noticeVersion: NOTICE_VERSION, sessionAt: fx.sessionAt },
  );

const ROUTES: readonly Route[] = [
  {
    name: 'GET /healthz',
    build: () =>
      requestArb({
        method: fc.constantFrom('GET', 'HEAD', 'GET', 'POST', 'OPTIONS'),
        path: fc.constantFrom('/healthz', '/healthz/', '/HEALTHZ', '//healthz', '/healthz%00', '/healthz/..'),
        query: queryArb(['x']),
        auth: 'viewer',
      }),
  },
  {
    name: 'pages (/, /admin, /join, /w/:id, /me/:token, /play/:id, /player/*, /favicon.ico)',
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .tuple(
            fc.constantFrom(
              '/',
              '/admin',
              '/join',
              '/w/',
              '/me/',
              '/play/',
              '/player/',
              '/favicon.ico',
              '/player/base.css',
            ),
            idArb([fx.od.webinarId, fx.assetId, 'player.js', 'event.js', 'base.css', fx.meToken]),
          )
          .map(([p, id]) => (p.endsWith('/') && p !== '/' ? `${p}${id}` : p)),
        query: queryArb(['embed', 't', 'k']),
        auth: 'viewer',
      }),
  },

  // ---- /api/assets ----
  {
    name: 'POST /api/assets (upload)',
    examples: () => [
      example(
        'POST',
        '/api/assets?title=%00',
        { ...apiKey(), 'content-type': 'video/mp4' },
        'not a video',
        'title: a NUL byte',
      ),
    ],
    refuses: true,
    build: () => {
      const badTitle = fc.oneof(
        fc.constant(''),
        fc.constantFrom(
          'title=',
          'title=%20%20',
          `title=${'a'.repeat(201)}`,
          'title=a&title=b',
          'title=%00',
          'title[x]=y',
        ),
        junkString
          .filter((s) => !s.trim() || s.length > 200 || s.includes('\u0000'))
          .map((s) => `title=${pct(s)}`),
      );
      const goodTitle = fc.constantFrom('title=talk', 'title=talk&filename=talk.mp4');
      const filename = fc.constantFrom(
        '',
        `&filename=${'f'.repeat(256)}`,
        '&filename=..%2f..%2fx',
        '&filename=%00',
        '&filename=a&filename=b',
      );
      const payload = fc.oneof(
        fc.constant(Buffer.alloc(0)),
        fc.uint8Array({ minLength: 1, maxLength: 256 }).map((a) => Buffer.from(a)),
      );
      const defect = fc.oneof(
        // A bad title: refused whatever the body.
        fc
          .tuple(
            badTitle,
            filename,
            payload,
            fc.constantFrom('application/octet-stream', 'video/mp4', 'application/json', ''),
          )
          .map(([t, f, data, type]) => ({ query: `?${t}${f}`, type, data, chunked: false })),
        // A form instead of the file.
        fc.tuple(goodTitle, payload).map(([t, data]) => ({
          query: `?${t}`,
          type: 'multipart/form-data; boundary=x',
          data,
          chunked: false,
          defect: 'a form',
        })),
        // Nothing.
        fc.tuple(goodTitle, fc.boolean()).map(([t, chunked]) => ({
          query: `?${t}`,
          type: 'application/octet-stream',
          data: Buffer.alloc(0),
          chunked,
          defect: 'empty',
        })),
        // Over the upload limit, without a Content-Length to refuse it early.
        fc.tuple(goodTitle, fc.integer({ min: 1, max: 200_000 })).map(([t, over]) => ({
          query: `?${t}`,
          type: 'application/octet-stream',
          data: Buffer.alloc(UPLOAD_LIMIT + over, 7),
          chunked: true,
          defect: 'over the upload limit',
        })),
      );
      return fc.tuple(defect, authArb('api'), extraHeaders).map(([d, auth, extra]) => {
        const headers: Record<string, string> = { ...extra, 'content-type': d.type };
        if (auth) headers.authorization = auth;
        const request: RawRequest = {
          method: 'POST',
          path: `/api/assets${d.query}`,
          headers,
          body: d.data,
          chunked: d.chunked,
        };
        const label = describeRequest(request);
        return Object.assign(request, { label, [fc.toStringMethod]: () => label });
      });
    },
  },
  {
    name: 'GET /api/assets',
    build: () =>
      requestArb({
        method: GET,
        path: fc.constantFrom('/api/assets', '/api/assets/', '/API/assets'),
        query: queryArb(['limit', 'before']),
        auth: 'api',
      }),
  },
  {
    name: 'GET /api/assets/:id',
    build: () =>
      requestArb({
        method: GET,
        path: idArb([fx.assetId]).map((id) => `/api/assets/${id}`),
        query: queryArb(['x']),
        auth: 'api',
      }),
  },
  {
    name: 'DELETE /api/assets/:id (never the real one)',
    refuses: true,
    build: () =>
      requestArb({
        method: fc.constant('DELETE'),
        path: fc.oneof(junkSegment, bentId([fx.assetId])).map((id) => `/api/assets/${id}`),
        auth: 'api',
      }),
  },

  // ---- /api/events ----
  {
    name: 'POST /api/events',
    examples: () => [
      example(
        'POST',
        '/api/events',
        apiKey(),
        toJson({
          title: 'T',
          type: 'live',
          gate: { emailRequired: true, privacyNoticeUrl: 'javascript:alert(1)', privacyNoticeVersion: '1' },
        }),
        'gate.privacyNoticeUrl: javascript:',
      ),
      example(
        'POST',
        '/api/events',
        apiKey(),
        toJson({ title: 'a\u0000b', type: 'live' }),
        'title: a NUL byte',
      ),
    ],
    refuses: true,
    runs: RUNS * 2,
    build: () =>
      requestArb({
        method: POST,
        path: fc.constantFrom('/api/events', '/api/events/'),
        query: queryArb(['x']),
        auth: 'api',
        body: wire(eventBody(false)),
      }),
  },
  {
    name: 'GET /api/events',
    build: () =>
      requestArb({
        method: GET,
        path: fc.constant('/api/events'),
        query: queryArb(['limit', 'before']),
        auth: 'api',
      }),
  },
  {
    name: 'GET /api/events/:id (and /live, /analytics, /analytics/series, /registrants.csv)',
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .tuple(
            idArb(ids().events),
            fc.constantFrom('', '/live', '/analytics', '/analytics/series', '/registrants.csv'),
          )
          .map(([id, tail]) => `/api/events/${id}${tail}`),
        query: queryArb(['x']),
        auth: 'api',
      }),
  },
  {
    name: 'PATCH /api/events/:id',
    examples: () => [
      example(
        'PATCH',
        `/api/events/${fx.scratch.id}`,
        apiKey(),
        '{"type":"automated"}',
        'automated without a schedule',
      ),
    ],
    refuses: true,
    runs: RUNS * 2,
    build: () =>
      requestArb({
        method: fc.constant('PATCH'),
        path: fc
          .oneof(
            { weight: 4, arbitrary: fc.constant(fx.scratch.id) },
            { weight: 1, arbitrary: fc.oneof(junkSegment, bentId([fx.scratch.id])) },
          )
          .map((id) => `/api/events/${id}`),
        auth: 'api',
        body: wire(eventBody(true)),
      }),
  },
  {
    name: 'DELETE /api/events/:id (never a real one)',
    refuses: true,
    build: () =>
      requestArb({
        method: fc.constant('DELETE'),
        path: fc.oneof(junkSegment, bentId(ids().events)).map((id) => `/api/events/${id}`),
        auth: 'api',
      }),
  },
  {
    name: 'GET /api/events/:id/sessions',
    examples: () => [
      example('GET', `/api/events/${fx.auto.id}/sessions?to=9999-12-31T00%3A00%3A00Z`, apiKey()),
      example('GET', `/api/events/${fx.auto.id}/sessions?from=9999-12-01T00%3A00%3A00Z`, apiKey()),
    ],
    build: () =>
      requestArb({
        method: GET,
        path: idArb([fx.auto.id, fx.auto.id, fx.live.id], 1).map((id) => `/api/events/${id}/sessions`),
        query: queryArb(
          ['from', 'to'],
          fc.oneof(
            fc.constantFrom(...QUERY_RAW),
            fc
              .date({
                min: new Date('0001-01-01T00:00:00Z'),
                max: new Date('9999-12-31T23:59:59Z'),
                noInvalidDate: true,
              })
              .map((d) => pct(d.toISOString())),
          ),
        ),
        auth: 'api',
      }),
  },
  {
    name: 'POST /api/events/:id/stream-key and /end',
    build: () =>
      requestArb({
        method: POST,
        path: fc
          .tuple(idArb([fx.scratchLive.id, fx.scratch.id], 1), fc.constantFrom('/stream-key', '/end'))
          .map(([id, tail]) => `/api/events/${id}${tail}`),
        auth: 'api',
      }),
  },
  {
    name: 'POST /api/events/:id/presenter-link',
    build: () =>
      requestArb({
        method: POST,
        path: idArb([fx.scratchLive.id, fx.live.id, fx.od.id], 1).map(
          (id) => `/api/events/${id}/presenter-link`,
        ),
        body: fc.oneof(
          fc.constant(undefined),
          wire(
            badJson(fc.constant({ days: 7 }), {
              days: fc.oneof(
                fc.integer({ min: -5, max: 0 }),
                fc.integer({ min: 400 }),
                fc.double(),
                fc.string(),
              ),
            }),
          ),
          wire(anyJson),
        ),
        auth: 'api',
      }),
  },
  {
    name: 'GET /api/present/:id[/live] (never a presenter link: API keys and junk bearers)',
    refuses: true,
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .tuple(
            fc.oneof(idArb([fx.scratchLive.id, fx.live.id], 1), junkSegment),
            fc.constantFrom('', '/live'),
          )
          .map(([id, tail]) => `/api/present/${id}${tail}`),
        auth: 'api',
      }),
  },
  {
    name: 'GET /api/events/:id/registrants',
    build: () =>
      requestArb({
        method: GET,
        path: idArb([fx.od.id, fx.auto.id], 1).map((id) => `/api/events/${id}/registrants`),
        query: queryArb(['limit', 'offset', 'q']),
        auth: 'api',
      }),
  },
  {
    name: 'DELETE /api/events/:id/registrants/:registrantId (never a real pair)',
    refuses: true,
    build: () =>
      requestArb({
        method: fc.constant('DELETE'),
        path: fc
          .oneof(
            fc.tuple(idArb([fx.od.id, fx.auto.id]), fc.oneof(junkSegment, bentId([fx.registrantId]))),
            // The real registrant, under another event.
            fc.tuple(fc.constantFrom(fx.auto.id, fx.live.id), fc.constant(fx.registrantId)),
          )
          .map(([id, r]) => `/api/events/${id}/registrants/${r}`),
        auth: 'api',
      }),
  },

  // ---- sign-in, team and keys ----
  {
    name: 'POST /api/auth/login, /signup, /password-reset, /invitation (no session)',
    refuses: true,
    build: () =>
      fc.oneof(
        requestArb({
          method: POST,
          path: fc.constant('/api/auth/login'),
          auth: 'viewer',
          body: wire(
            badJson(fc.constant({ email: 'nobody@example.com', password: 'not the password' }), {
              email: badValue('string', ['', 'x'.repeat(300), 'a\u0000@example.com']),
              password: badValue('string', ['x'.repeat(300), '']),
            }),
          ),
        }),
        requestArb({
          method: POST,
          path: fc.constant('/api/auth/signup'),
          auth: 'viewer',
          body: wire(
            badJson(
              fc.constant({
                email: 'new@example.com',
                name: 'N',
                password: 'long enough pass',
                apiKey: 'onair_x',
              }),
              {
                email: badValue('string', ['not an email', `${'a'.repeat(250)}@example.com`]),
                password: badValue('string', ['short', 'x'.repeat(300)]),
                name: badValue('string', ['', ' ', 'n'.repeat(500)]),
                apiKey: badValue('string', ['', 'k'.repeat(600)]),
              },
            ),
          ),
        }),
        requestArb({
          method: POST,
          path: fc.constantFrom(
            '/api/auth/password-reset/confirm',
            '/api/auth/invitation',
            '/api/auth/invitation/accept',
          ),
          auth: 'viewer',
          body: wire(
            badJson(
              fc.constant({
                token: 'reset|acc_x|usr_x|9999999999.bad',
                password: 'long enough pass',
                name: 'N',
              }),
              {
                token: badValue('string', ['', 't'.repeat(600), 'a.b.c', 'invite|x|y|1.z']),
                password: badValue('string', ['short', 'x'.repeat(300)]),
              },
            ),
          ),
        }),
      ),
  },
  {
    name: 'POST /api/team/invitations, /api/keys; PATCH, DELETE /api/team/members/:id',
    refuses: true,
    build: () =>
      fc.oneof(
        requestArb({
          method: POST,
          path: fc.constant('/api/team/invitations'),
          auth: 'api',
          body: wire(
            badJson(fc.constant({ email: 'invitee@example.com', role: 'manager' }), {
              email: badValue('string', ['not an email', '']),
              role: badValue('string', ['admin', 'OWNER', '']),
              eventIds: badValue('array', [['ev_AAAAAAAAAAAAAAAA'], ['x'], 'ev_x']),
            }),
          ),
        }),
        requestArb({
          method: POST,
          path: fc.constant('/api/keys'),
          auth: 'api',
          body: wire(
            badJson(fc.constant({ label: 'k' }), { label: badValue('string', ['', 'l'.repeat(500)]) }),
          ),
        }),
        requestArb({
          method: fc.constantFrom('PATCH', 'DELETE'),
          path: fc
            .oneof(junkSegment, fc.constant('usr_AAAAAAAAAAAAAAAA'))
            .map((id) => `/api/team/members/${id}`),
          auth: 'api',
        }),
      ),
  },
  // ---- /api/webhooks and the rest of /api ----
  {
    name: 'POST /api/webhooks',
    examples: () => [
      example(
        'POST',
        '/api/webhooks',
        apiKey(),
        '{"url":"https://user:pass@example.com/hook"}',
        'url: credentials',
      ),
    ],
    refuses: true,
    build: () =>
      requestArb({
        method: POST,
        path: fc.constant('/api/webhooks'),
        auth: 'api',
        body: wire(
          badJson(fc.constant({ url: 'https://example.com/hook' }), {
            url: badValue('string', [
              'ftp://example.com/x',
              'javascript:alert(1)',
              'not a url',
              `https://example.com/${'a'.repeat(2000)}`,
              'https://exa\u0000mple.com/',
              'https://user:pass@example.com/hook',
              'file:///etc/passwd',
            ]),
            events: badValue('array', [[], ['nope'], 'all', [1], ['registrant.created\u0000']]),
          }),
        ),
      }),
  },
  {
    name: 'GET /api/webhooks, DELETE /api/webhooks/:id (never the real one)',
    refuses: false,
    build: () =>
      fc.oneof(
        requestArb({ method: GET, path: fc.constant('/api/webhooks'), query: queryArb(['x']), auth: 'api' }),
        requestArb({
          method: fc.constant('DELETE'),
          path: fc.oneof(junkSegment, bentId([fx.webhookId])).map((id) => `/api/webhooks/${id}`),
          auth: 'api',
        }),
      ),
  },
  {
    name: 'unknown /api routes and methods',
    refuses: true,
    build: () =>
      requestArb({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND'),
        path: fc
          .tuple(
            fc.constantFrom(
              '/api',
              '/api/',
              '/api/nope/',
              '/api/assets/x/y/',
              '/api/events/x/y/z/',
              '/api/webhooks/x/',
            ),
            junkSegment,
          )
          .map(([p, s]) => `${p}${s}`),
        auth: 'api',
      }),
  },

  // ---- viewers: /w/:webinarId/... ----
  {
    name: 'GET /w/:webinarId/info.json',
    examples: () => [
      example('GET', `/w/${fx.od.webinarId}/info.json`, brokenCookies()),
      example('GET', `/w/${fx.auto.webinarId}/info.json`, brokenCookies()),
    ],
    build: () =>
      requestArb({
        method: GET,
        path: webinarIds(ids().webinars).map((w) => `/w/${w}/info.json`),
        query: queryArb(
          ['k', 'embed'],
          fc.oneof(queryValue, fc.constant(fx.joinToken), bentId([fx.joinToken])),
        ),
        auth: 'viewer',
        cookie: cookieArb([fx.odCookie, fx.autoCookie, fx.sessionCookie]),
      }),
  },
  {
    name: 'POST /w/:webinarId/session',
    examples: () => [
      example(
        'POST',
        `/w/${fx.auto.webinarId}/session`,
        brokenCookies(),
        toJson({ sessionAt: fx.sessionAt }),
      ),
      example(
        'POST',
        `/w/${fx.auto.webinarId}/session`,
        { cookie: fx.autoCookie },
        '{"sessionAt":"9999-12-31T09:00:00Z"}',
      ),
    ],
    build: () =>
      requestArb({
        method: POST,
        path: webinarIds([fx.auto, fx.auto, fx.od]).map((w) => `/w/${w}/session`),
        auth: 'viewer',
        cookie: cookieArb([fx.autoCookie, fx.sessionCookie]),
        body: wire(
          fc.oneof(
            badJson(fc.constant({ sessionAt: fx.sessionAt }), {
              sessionAt: badValue('string', [
                'later',
                '9999-12-31T23:55:00Z',
                '0001-01-01T00:00:00Z',
                '2026-02-30T10:00:00Z',
                1767225600000,
              ]),
            }),
            fc
              .date({
                min: new Date('0001-01-01T00:00:00Z'),
                max: new Date('9999-12-31T23:55:00Z'),
                noInvalidDate: true,
              })
              .map((d) =>
                toJson({ sessionAt: new Date(Math.floor(d.getTime() / 300_000) * 300_000).toISOString() }),
              ),
            fc.constant(toJson({ sessionAt: 'now' })),
          ),
        ),
      }),
  },
  {
    name: 'POST /w/:webinarId/register',
    examples: () => [
      example(
        'POST',
        `/w/${fx.od.webinarId}/register`,
        {},
        toJson({ email: 'fuzz@example.com', noticeVersion: NOTICE_VERSION, name: 'Ada\u0000' }),
        'name: a NUL byte',
      ),
      example(
        'POST',
        `/w/${fx.auto.webinarId}/register`,
        {},
        '{"email":"fuzz@example.com","sessionAt":"9999-12-31T09:00:00Z"}',
        'sessionAt: 8000 years ahead',
      ),
    ],
    refuses: true,
    runs: RUNS * 2,
    build: () => {
      const anyEvent = requestArb({
        method: POST,
        path: webinarIds([fx.od, fx.auto, fx.live]).map((w) => `/w/${w}/register`),
        auth: 'viewer',
        cookie: cookieArb([fx.odCookie, fx.autoCookie]),
        body: wire(
          badJson(registrationBase(), {
            email: badValue('string', [
              'not-an-email',
              `${'a'.repeat(250)}@example.com`,
              'a\u0000@example.com',
              '\uD800@example.com',
              'a@example.com\r\nBcc: b@example.com',
              ['a@example.com'],
            ]),
            name: badValue('string', ['n'.repeat(101), 'Ada\u0000', 'Ada\uD800', { first: 'Ada' }]),
            company: badValue('string', ['c'.repeat(101), 'Acme\u0000', '\uDFFF']),
            marketingConsent: badValue('boolean', ['yes', 1, 'true']),
            noticeVersion: badValue('string', ['v'.repeat(41), 2026]),
            sessionAt: badValue('string', ['later', '2026-02-30T10:00:00Z', 1767225600000]),
          }),
        ),
      });
      // On the automated event, a well-formed session that is no session, or is over, is bad too.
      const noSuchSession = requestArb({
        method: POST,
        path: fc.constant(`/w/${fx.auto.webinarId}/register`),
        auth: 'viewer',
        cookie: cookieArb([fx.autoCookie]),
        body: wire(
          badJson(fc.constant({ email: 'fuzz@example.com' }), {
            sessionAt: badValue('string', [
              '9999-12-31T09:00:00Z',
              '0001-01-01T09:00:00Z',
              fx.pastSessionAt,
              new Date(Date.parse(fx.sessionAt) + 60_000).toISOString(),
              'now',
            ]),
          }),
        ),
      });
      return fc.oneof({ weight: 3, arbitrary: anyEvent }, { weight: 1, arbitrary: noSuchSession });
    },
  },
  {
    name: 'POST /w/:webinarId/heartbeat',
    examples: () => [
      example(
        'POST',
        `/w/${fx.auto.webinarId}/heartbeat`,
        brokenCookies(),
        '{"sessionId":"short","position":1,"played":1}',
        'sessionId: too short',
      ),
    ],
    refuses: true,
    build: () =>
      requestArb({
        method: POST,
        path: webinarIds(ids().webinars).map((w) => `/w/${w}/heartbeat`),
        auth: 'viewer',
        cookie: cookieArb([fx.odCookie, fx.autoCookie, fx.sessionCookie]),
        body: wire(
          badJson(fc.constant({ sessionId: 'fuzz-session-0000000001', position: 1, played: 1 }), {
            sessionId: badValue('string', [
              'short',
              's'.repeat(65),
              'has spaces in it!!',
              '../../../../etc/passwd',
            ]),
            position: badValue('number', [-1, 7 * 24 * 3600 + 1, '1', 1e308]),
            played: badValue('number', [-1, 3601, '1', 1e308]),
          }),
        ),
      }),
  },
  {
    name: 'POST /w/:webinarId/heartbeat with a valid beat (cookies fuzzed)',
    examples: () => [
      example(
        'POST',
        `/w/${fx.auto.webinarId}/heartbeat`,
        brokenCookies(),
        '{"sessionId":"fuzz-session-0000000002","position":1,"played":1}',
      ),
    ],
    build: () =>
      requestArb({
        method: POST,
        path: webinarIds(ids().webinars).map((w) => `/w/${w}/heartbeat`),
        auth: 'viewer',
        cookie: cookieArb([fx.odCookie, fx.autoCookie, fx.sessionCookie]),
        body: fc
          .tuple(fc.integer({ min: 0, max: 99 }), fc.double({ min: 0, max: 3600, noNaN: true }))
          .map(([i, played]) => ({
            type: 'application/json',
            data: toJson({ sessionId: `fuzz-session-${String(i).padStart(10, '0')}`, position: 1, played }),
          })),
      }),
  },
  {
    name: 'POST /w/:webinarId/cta/:ctaId/click',
    examples: () => [example('POST', `/w/${fx.auto.webinarId}/cta/buy/click`, brokenCookies())],
    build: () =>
      requestArb({
        method: POST,
        path: fc
          .tuple(webinarIds([fx.auto, fx.od]), idArb(['buy'], 3))
          .map(([w, c]) => `/w/${w}/cta/${c}/click`),
        auth: 'viewer',
        cookie: cookieArb([fx.autoCookie, fx.sessionCookie]),
      }),
  },
  {
    name: 'GET /w/:webinarId/polls/:pollId',
    examples: () => [example('GET', `/w/${fx.auto.webinarId}/polls/size`, brokenCookies())],
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .tuple(webinarIds([fx.auto, fx.od]), idArb(['size', 'buy']))
          .map(([w, p]) => `/w/${w}/polls/${p}`),
        auth: 'viewer',
        cookie: cookieArb([fx.autoCookie, fx.sessionCookie]),
      }),
  },
  {
    name: 'POST /w/:webinarId/polls/:pollId/vote',
    examples: () => [
      example(
        'POST',
        `/w/${fx.auto.webinarId}/polls/size/vote`,
        brokenCookies(),
        '{"option":2}',
        'option: number 2',
      ),
    ],
    refuses: true,
    build: () =>
      requestArb({
        method: POST,
        path: fc
          .tuple(webinarIds([fx.auto, fx.od]), idArb(['size', 'buy']))
          .map(([w, p]) => `/w/${w}/polls/${p}/vote`),
        auth: 'viewer',
        cookie: cookieArb([fx.autoCookie, fx.sessionCookie]),
        body: wire(
          badJson(fc.constant({}), {
            option: badValue('number', [-1, 2, 5, 6, 1.5, '0', 1e308, [0]]),
          }),
        ),
      }),
  },

  // ---- personal links ----
  {
    name: 'GET /u/:token',
    build: () =>
      requestArb({
        method: GET,
        path: idArb([fx.unsubToken, fx.meToken]).map((t) => `/u/${t}`),
        auth: 'viewer',
      }),
  },
  {
    name: 'POST /u/:token (never the real link)',
    refuses: true,
    build: () =>
      requestArb({
        method: POST,
        path: fc.oneof(junkSegment, bentId([fx.unsubToken]), fc.constant(fx.meToken)).map((t) => `/u/${t}`),
        auth: 'viewer',
        body: fc.oneof(
          fc.constant(undefined),
          fc
            .tuple(
              fc.oneof(
                fc.constantFrom('List-Unsubscribe=One-Click', 'a=%E0%A4%A', '%%%', ''),
                fc.integer({ min: 1_000, max: 5_000 }).map((n) => `List-Unsubscribe=${'a'.repeat(n)}`),
                junkString.map(pct),
              ),
              fc.constantFrom(
                'application/x-www-form-urlencoded',
                'application/x-www-form-urlencoded; charset=utf-16',
                'text/plain',
              ),
            )
            .map(([data, type]): Body => ({ type, data })),
          wire(anyJson),
        ),
      }),
  },
  {
    name: 'GET /me/:token/data.:format and /status.json',
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .tuple(
            idArb([fx.meToken, fx.unsubToken]),
            fc.constantFrom(
              'data.json',
              'data.csv',
              'status.json',
              'data.xml',
              'data.',
              'data.json.csv',
              'data.%00',
              'data.%E0%A4%A',
            ),
          )
          .map(([t, tail]) => `/me/${t}/${tail}`),
        auth: 'viewer',
      }),
  },
  {
    name: 'POST /me/:token/withdraw and /delete (never the real link)',
    refuses: true,
    build: () =>
      requestArb({
        method: POST,
        path: fc
          .tuple(
            fc.oneof(junkSegment, bentId([fx.meToken]), fc.constant(fx.unsubToken)),
            fc.constantFrom('withdraw', 'delete'),
          )
          .map(([t, tail]) => `/me/${t}/${tail}`),
        auth: 'viewer',
      }),
  },

  // ---- preview ----
  {
    name: 'GET /play/:assetId/source.json',
    examples: () => [
      example('GET', `/play/${fx.assetId}${'a'.repeat(5000)}/source.json?t=${fx.previewToken}`),
      example('GET', `/play/${fx.assetId}/source.json?t=${fx.previewToken}&t=${fx.previewToken}`),
    ],
    build: () =>
      requestArb({
        method: GET,
        path: idArb([fx.assetId]).map((id) => `/play/${id}/source.json`),
        query: queryArb(['t'], fc.oneof(queryValue, fc.constant(fx.previewToken), bentId([fx.previewToken]))),
        auth: 'viewer',
      }),
  },

  {
    name: 'GET /w/:webinarId/info.json, POST /session (automated, a session every 5 minutes)',
    runs: 3,
    build: () =>
      fc.oneof(
        requestArb({
          method: GET,
          path: fc.constant(`/w/${fx.jit.webinarId}/info.json`),
          auth: 'viewer',
        }),
        requestArb({
          method: POST,
          path: fc.constant(`/w/${fx.jit.webinarId}/session`),
          auth: 'viewer',
          body: fc.constant({ type: 'application/json', data: '{"sessionAt":"now"}' }),
        }),
      ),
  },

  // ---- the origin (/s/...) ----
  {
    name: 'origin /s/<hash>/<expires>/<scope>/<id>/<revision>/<file>',
    runs: RUNS * 2,
    build: () => {
      const prefix = fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...fx.originPrefixes) },
        {
          weight: 2,
          arbitrary: fc
            .tuple(fc.constantFrom(...fx.originPrefixes), fc.nat({ max: 4 }), junkSegment)
            .map(([p, i, s]) => {
              const parts = p.split('/');
              parts[2 + i] = s;
              return parts.join('/');
            }),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(
              fc.constantFrom(...fx.originPrefixes),
              fc.constantFrom('0', '1', '999999999999', '9999999999999', '-1', '1e10'),
            )
            .map(([p, e]) => {
              const parts = p.split('/');
              parts[3] = e;
              return parts.join('/');
            }),
        },
      );
      const revision = fc.oneof(
        { weight: 5, arbitrary: fc.constant(fx.revision) },
        { weight: 1, arbitrary: junkSegment },
      );
      const file = fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...fx.mediaFiles) },
        {
          weight: 1,
          arbitrary: fc.tuple(fc.constantFrom(...fx.mediaFiles), junkSegment).map(([f, s]) => `${f}/${s}`),
        },
        {
          weight: 1,
          arbitrary: fc.tuple(junkSegment, fc.constantFrom(...fx.mediaFiles)).map(([s, f]) => `${s}/${f}`),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            '../../../../secret.key',
            '%2e%2e/%2e%2e/%2e%2e/onair.sqlite',
            '..%2f..%2fonair.sqlite',
            'master.m3u8%00.jpg',
            'x.m3u8',
            'a/b/c/d/e.m4s',
            '.m3u8',
            '',
            'master.m3u8/',
          ),
        },
      );
      return requestArb({
        method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'OPTIONS', 'POST', 'DELETE', 'PROPFIND'),
        path: fc.tuple(prefix, revision, file).map(([p, r, f]) => `${p}/${r}/${f}`),
        query: fc.oneof({ weight: 4, arbitrary: fc.constant('') }, { weight: 1, arbitrary: queryArb(['v']) }),
        auth: 'viewer',
      });
    },
  },
  {
    name: 'operator: /metrics, /status, /status.json, /admin/queues (reads only)',
    build: () =>
      requestArb({
        method: fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'GET'),
        path: fc
          .tuple(
            fc.constantFrom(
              '/metrics',
              '/status',
              '/status.json',
              '/admin/queues',
              '/admin/queues/api/queues',
              '/admin/queues/queue/',
            ),
            fc.oneof(fc.constant(''), fc.constantFrom('media', 'email', 'x', '..', '%2e%2e'), junkSegment),
          )
          .map(([p, tail]) => (p.endsWith('/') ? `${p}${tail}` : p)),
        query: queryArb(['activeQueue', 'status', 'page', 'jobsPerPage']),
        auth: 'operator',
      }),
  },
  {
    name: 'origin: anything under /s/',
    build: () =>
      requestArb({
        method: GET,
        path: fc
          .array(fc.oneof(junkSegment, fc.constantFrom('e', 'a', fx.revision, fx.od.webinarId, fx.assetId)), {
            maxLength: 9,
          })
          .map((segments) => `/s/${segments.join('/')}`),
        auth: 'viewer',
      }),
  },
];

// ---------------------------------------------------------------------------------------------
// The property

interface Problem {
  /** Same kind of failure on the same route: one finding. */
  readonly key: string;
  readonly text: string;
}

/** The server's logged reason for a 500 (its `err` field), if it logged one. */
function loggedReason(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    try {
      const entry = JSON.parse(line) as { level?: string; err?: string; msg?: string };
      if (entry.level === 'error') return `${entry.msg ?? ''}: ${truncate(entry.err ?? '', 300)}`;
    } catch {
      if (line.trim()) return line.slice(0, 300);
    }
  }
  return undefined;
}

/** Sends one request and checks everything a bad request must not do. */
async function probe(
  route: Route,
  request: FuzzRequest,
): Promise<{ problems: Problem[]; reply: RawReply; stalled: boolean; hog: boolean }> {
  const before = await watch.snapshot();
  const started = Date.now();
  const cpu = server.cpuMs();
  const reply = await send(server.url, request, DEADLINE_MS);
  // CPU time the server spent meanwhile: a slow answer on a loaded machine is not the route's doing.
  const busy = server.cpuMs() - cpu;
  const problems: Problem[] = [];
  if (reply.timedOut || server.exited) {
    const reason = server.exited
      ? 'the server process died'
      : `no answer within ${DEADLINE_MS} ms, the server busy on its CPU for ${busy} ms of it (event loop stalled)`;
    problems.push({ key: 'stall', text: reason });
    return { problems, reply, stalled: true, hog: true };
  }
  // A server that refuses a large body without reading it (401 before an upload, 413 past the
  // 64 kB JSON limit) may close the connection while the client is still sending: the client
  // then sees EPIPE, not the answer. Only a small body must always get its answer.
  if (reply.status === 0 && (request.body?.length ?? 0) <= 64 * 1024) {
    problems.push({ key: `no answer ${reply.error ?? ''}`, text: `no answer: ${reply.error ?? ''}` });
  }
  if (reply.status >= 500) {
    // The log line is written before the answer, but reaches us through a pipe.
    await new Promise((r) => setTimeout(r, 30));
    const reason = loggedReason(server.logSince(started));
    problems.push({
      key: `${reply.status} ${reason ?? ''}`,
      text: `answered ${reply.status}${reason ? ` (server log: ${reason})` : ''}: ${truncate(reply.text, 200)}`,
    });
  }
  if (route.refuses && reply.status > 0 && reply.status < 400) {
    problems.push({
      key: `accepted ${reply.status} ${request.defect ?? ''}`,
      text: `bad input${request.defect ? ` (${request.defect})` : ''} accepted with ${reply.status}: ${truncate(reply.text, 200)}`,
    });
  }
  if (busy > CPU_BUDGET_MS) {
    // Once may be a collection of someone else's garbage: twice is the route.
    const cpuAgain = server.cpuMs();
    const again = await send(server.url, request, DEADLINE_MS);
    const busyAgain = server.cpuMs() - cpuAgain;
    if (again.timedOut) {
      problems.push({ key: 'stall', text: `no answer within ${DEADLINE_MS} ms on a second try` });
      return { problems, reply, stalled: true, hog: true };
    }
    if (busyAgain > CPU_BUDGET_MS) {
      problems.push({
        key: 'slow',
        text: `kept the server's CPU busy for ${busy} ms, then ${busyAgain} ms (answered after ${reply.ms} ms, then ${again.ms} ms)`,
      });
    }
  }
  if (reply.status >= 400 && reply.status < 500) {
    const changes = writesBetween(before, await watch.snapshot()).filter((c) => {
      const table = /^table (\w+):/.exec(c)?.[1];
      const mode = table ? BACKGROUND[table] : undefined;
      return mode === undefined || (mode === 'rows' && !c.endsWith('rows updated'));
    });
    if (changes.length > 0) {
      problems.push({
        key: `wrote ${changes.map((c) => c.replace(/\d+/g, 'N')).join(', ')}`,
        text: `refused with ${reply.status} but wrote: ${changes.join('; ')}`,
      });
    }
  }
  const cpuBeforeHealth = server.cpuMs();
  const health = await send(server.url, { method: 'GET', path: '/healthz' }, DEADLINE_MS);
  if (health.timedOut || server.exited) {
    problems.push({ key: 'stall', text: `/healthz did not answer within ${DEADLINE_MS} ms after it` });
    return { problems, reply, stalled: true, hog: true };
  }
  if (health.status !== 200 || (health.ms > SLOW_MS && server.cpuMs() - cpuBeforeHealth > SLOW_MS / 2)) {
    problems.push({
      key: 'unhealthy',
      text: `/healthz then answered ${health.status || health.error} after ${health.ms} ms`,
    });
  }
  return { problems, reply, stalled: false, hog: problems.some((p) => p.key === 'slow') };
}

interface Finding {
  readonly route: string;
  readonly problem: string;
  readonly example: string;
  count: number;
}

const findings = new Map<string, Finding>();

async function fuzzRoute(route: Route): Promise<void> {
  const stalls: string[] = [];
  const local: Finding[] = [];
  let skip = false;
  const property = fc.asyncProperty(route.build(), async (request) => {
    if (skip) return true;
    const { problems, reply, stalled, hog } = await probe(route, request);
    if (hog) {
      // No shrinking a stall: every try would stall again (and cost seconds). Report it, restart
      // a server that is still stuck, and leave the rest of this route alone.
      stalls.push(`${problems.map((p) => p.text).join('; ')}\n      ${request.label}`);
      skip = true;
      if (stalled) await server.restart();
      return true;
    }
    if (problems.length === 0) return true;
    if (COLLECT) {
      for (const p of problems) {
        const key = `${route.name} | ${p.key}`;
        const seen = findings.get(key);
        if (seen) seen.count += 1;
        else {
          const finding = { route: route.name, problem: p.text, example: request.label, count: 1 };
          findings.set(key, finding);
          local.push(finding);
        }
      }
      return true;
    }
    throw new Error(`${problems.map((p) => p.text).join('\n')}\n(status ${reply.status}, ${reply.ms} ms)`);
  });
  const messages: string[] = [];
  try {
    await fc.assert(property, {
      seed: SEED,
      numRuns: route.runs ?? RUNS,
      examples: (route.examples?.() ?? []).map((r): [FuzzRequest] => [r]),
      interruptAfterTimeLimit: 20_000,
      endOnFailure: false,
    });
  } catch (err) {
    // fast-check keeps the property's own error as the cause.
    const cause = (err as Error).cause;
    messages.push(`${(err as Error).message}${cause instanceof Error ? `\nGot: ${cause.message}` : ''}`);
  }
  for (const s of stalls) messages.push(`stalled: ${s}`);
  for (const f of local) messages.push(`${f.problem}  [x${f.count}]\n      e.g. ${f.example}`);
  if (messages.length > 0) {
    throw new Error(
      `${route.name}\n${messages.join('\n\n')}\n\nreplay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx vitest run test/integration/fuzz.test.ts -t '${route.name.split(' (')[0]}'`,
    );
  }
}

describe('fuzzing every route', () => {
  for (const route of ROUTES) {
    it(route.name, async () => {
      await fuzzRoute(route);
    });
  }
});

describe('links in emails', () => {
  it('never point to the host a request named (Host: evil.example)', async () => {
    const email = 'host-check@example.com';
    const reply = await send(
      server.url,
      {
        method: 'POST',
        path: `/w/${fx.auto.webinarId}/register`,
        headers: { host: 'evil.example', 'content-type': 'application/json' },
        body: JSON.stringify({ email, sessionAt: fx.sessionAt }),
      },
      DEADLINE_MS,
    );
    expect(reply.status, reply.text).toBeLessThan(500);
    const hostLinks = (text: string) => [...new Set(text.match(/https?:\/\/evil\.example[^\s"<>]*/g) ?? [])];
    if (reply.status === 201) {
      const mail = await until(
        'the confirmation email',
        () => smtp.mails.find((m) => m.to === email),
        15_000,
      );
      expect(hostLinks(mail.parsed.text ?? ''), 'the confirmation email links to the Host header').toEqual(
        [],
      );
    }
    // Nor any email the fuzzing above caused (a booked session sends a confirmation).
    expect(smtp.mails.filter((m) => hostLinks(m.parsed.text ?? '').length > 0).map((m) => m.to)).toEqual([]);
  });
});
