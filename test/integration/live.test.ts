import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist, type MediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { verifyWebhook } from '../../src/services/webhooks.ts';
import { loadConfig } from '../../src/config.ts';
import { blockingVerdict, playlistEdge } from '../../pipelines/ll-hls-blocking.ts';
import { readLivePlaylist } from '../../src/live/live-playlists.ts';
import { LiveSession } from '../../src/live/live-session.ts';
import { signedPullUrl, type RunningIngest } from '../../src/live/rtmp-ingest.ts';
import { createLogger } from '../../src/log.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { obsLikePublish, startLoopbackIngest, startPublisher, type Publisher } from '../helpers/live.ts';
import { firstFrameOf } from '../helpers/media.ts';
import { apiCall, until } from '../helpers/api.ts';
import { childProcesses, isAlive } from '../helpers/onair-process.ts';
import { serverStorage, startTestServer, testEnv, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
const publishers: Publisher[] = [];

interface Received {
  type: string;
  body: string;
  signature: string;
  at: number;
}
const received: Received[] = [];
let hookServer: http.Server;
let hookUrl: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-live-'));
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({
        type: String(req.headers['onair-webhook-type']),
        body,
        signature: String(req.headers['onair-signature']),
        at: Date.now(),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', () => resolve()));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/hooks`;
  server = await startTestServer({
    // The webhook receiver here listens on loopback.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    RTMP_PORT: '0',
    WORKERS: '2',
    LIVE_RECONNECT_GRACE_SECONDS: '20',
    LIVE_LOCK_MS: '3000',
  });
}, 60_000);

afterAll(async () => {
  for (const p of publishers) await p.drop();
  await server?.close();
  await new Promise((resolve) => hookServer?.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

function api<T = Record<string, unknown>>(method: string, url: string, body?: unknown) {
  return apiCall<T>(server, method, url, body);
}

interface LiveEvent {
  id: string;
  webinarId: string;
  assetId: string | null;
  live: {
    rtmpUrl: string;
    streamKey: string;
    status: string;
    obsSettings: { keyframeIntervalSeconds: number };
  };
}

async function createLiveEvent(extra: Record<string, unknown> = {}): Promise<LiveEvent> {
  const { status, json } = await api<LiveEvent>('POST', '/api/events', {
    title: 'Launch day',
    type: 'live',
    ...extra,
  });
  expect(status).toBe(201);
  return json;
}

interface Info {
  state: string;
  liveStatus: string | null;
  playback: { master: string; live: boolean; complete: boolean } | null;
}

async function info(event: LiveEvent): Promise<Info> {
  return (await (
    await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/info.json`)
  ).json()) as Info;
}

function publish(event: LiveEvent, spec: Parameters<typeof startPublisher>[1] = {}): Publisher {
  const p = startPublisher(`${event.live.rtmpUrl}/${event.live.streamKey}`, spec);
  publishers.push(p);
  return p;
}

async function text(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return response.text();
}

async function rendition(master: string, index: number): Promise<{ url: string; playlist: MediaPlaylist }> {
  const variants = parseMasterPlaylist(await text(master)).variants;
  const url = new URL(variants[index]!.uri, master).toString();
  return { url, playlist: parseMediaPlaylist(await text(url)) };
}

/** LL-HLS on a rendition: parts of at most the target (one frame of slack), a keyframe first in each segment. */
function expectParts(url: string, playlist: MediaPlaylist, partSeconds = 1 / 3): void {
  const ll = playlist.lowLatency;
  expect(ll, url).toBeDefined();
  expect(ll!.partTarget).toBeCloseTo(partSeconds, 2);
  const withParts = playlist.segments.filter((s) => s.parts && s.parts.length > 0);
  expect(withParts.length, url).toBeGreaterThanOrEqual(2);
  for (const s of withParts) {
    expect(s.parts![0]!.independent, s.uri).toBe(true);
    for (const p of s.parts!) expect(p.duration, p.uri).toBeLessThanOrEqual(partSeconds + 0.04);
    // The parts are the segment, cut up: together as long as it.
    expect(s.parts!.reduce((sum, p) => sum + p.duration, 0)).toBeCloseTo(s.duration, 2);
  }
}

function discontinuities(playlistText: string): number {
  return playlistText.split('\n').filter((l) => l === '#EXT-X-DISCONTINUITY').length;
}

/** MONITOR shows each argument escaped as Redis prints strings (`\n`, `\"`, `\xHH`). */
function unescapeMonitor(text: string): string {
  const named: Record<string, string> = {
    n: '\n',
    r: '\r',
    t: '\t',
    a: '\x07',
    b: '\b',
    '"': '"',
    '\\': '\\',
  };
  return text.replace(/\\(x[0-9a-fA-F]{2}|[nrtab"\\])/g, (_, c: string) =>
    c.startsWith('x') ? String.fromCharCode(parseInt(c.slice(1), 16)) : named[c]!,
  );
}

describe('live ingest', () => {
  it('shows presenters the RTMP URL, a 128-bit+ stream key and the OBS settings; rotates the key', async () => {
    const event = await createLiveEvent();
    expect(event.live.rtmpUrl).toMatch(/^rtmp:\/\/.+\/live$/);
    expect(event.live.streamKey).toMatch(/^live_[A-Za-z0-9_-]{32}$/);
    // As often as live segments are cut (1 s): then onair copies the top rung instead of encoding it.
    expect(event.live.obsSettings.keyframeIntervalSeconds).toBe(1);
    const rotated = await api<LiveEvent>('POST', `/api/events/${event.id}/stream-key`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.live.streamKey).not.toBe(event.live.streamKey);
    // The old key is refused from now on, before the publish is acknowledged.
    const old = await obsLikePublish(`${event.live.rtmpUrl}/${event.live.streamKey}`);
    expect(old.code).toBe('NetStream.Publish.BadName');
    expect(old.description).toMatch(/Unknown stream key/);
    expect(old.closedByServer).toBe(true);
    // Validation at the boundary.
    expect((await api('POST', '/api/events/ev_nope/stream-key')).status).toBe(400);
    const vod = await api<{ id: string }>('POST', '/api/events', { title: 'x', type: 'on_demand' });
    expect(vod.status).toBe(400);
  });

  it('refuses unknown, disabled, too-early and second publishers, and never acknowledges them', async () => {
    const unknown = await obsLikePublish(`${server.rtmpUrl}/live_not-a-real-key-at-all-000000000`);
    expect(unknown).toMatchObject({ code: 'NetStream.Publish.BadName', closedByServer: true });

    const early = await createLiveEvent({ startsAt: new Date(Date.now() + 3 * 3600_000).toISOString() });
    const tooEarly = await obsLikePublish(`${early.live.rtmpUrl}/${early.live.streamKey}`);
    expect(tooEarly.code).toBe('NetStream.Publish.BadName');
    expect(tooEarly.description).toMatch(/Too early: streaming opens at/);

    const disabled = await createLiveEvent();
    expect((await api('PATCH', `/api/events/${disabled.id}`, { streamKeyDisabled: true })).status).toBe(200);
    const off = await obsLikePublish(`${disabled.live.rtmpUrl}/${disabled.live.streamKey}`);
    expect(off.description).toMatch(/disabled/);

    const event = await createLiveEvent();
    const first = publish(event);
    await until('the first publisher to be live', async () => (await info(event)).state === 'playable');
    const second = await obsLikePublish(`${event.live.rtmpUrl}/${event.live.streamKey}`);
    expect(second.code).toBe('NetStream.Publish.BadName');
    expect(second.description).toMatch(/already streaming/);
    // The refused one did not disturb the first: still live, no second period.
    const live = await api<{ status: string; periods: number }>('GET', `/api/events/${event.id}/live`);
    expect(live.json.status).toBe('live');
    expect(live.json.periods).toBe(1);
    // No stream key in any log line is checked in the logs test; here: nothing for refused keys ran.
    await first.stop();
  });

  it('goes live from an OBS-like encoder: keyframe-aligned ladder, live playlists, health; stop makes the replay within 10 s', async () => {
    const hook = await api<{ secret: string }>('POST', '/api/webhooks', { url: hookUrl });
    expect(hook.status).toBe(201);
    const event = await createLiveEvent();
    expect((await info(event)).state).toBe('waiting');
    // Keyframes every second, as the event page asks: the top rung is copied.
    const publisher = publish(event, { seconds: 16, keyframeSeconds: 1 });

    const live = await until('live playback', async () => {
      const i = await info(event);
      return i.state === 'playable' && i.playback?.live ? i : undefined;
    });
    expect(live.liveStatus).toBe('live');
    const master = parseMasterPlaylist(await text(live.playback!.master));
    expect(master.variants.map((v) => v.resolution?.height)).toEqual([720, 480, 360]);
    expect(master.audioUris).toHaveLength(1);

    // Let a few segments accumulate, then check every rung cuts at the same keyframes.
    await until(
      '4 segments',
      async () => (await rendition(live.playback!.master, 2)).playlist.segments.length >= 4,
    );
    const rungs = await Promise.all([0, 1, 2].map((i) => rendition(live.playback!.master, i)));
    const liveText = await text(rungs[0]!.url);
    expect(liveText).not.toContain('#EXT-X-ENDLIST');
    expect(liveText).not.toContain('#EXT-X-PLAYLIST-TYPE');
    expect(liveText).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT/);
    const count = Math.min(...rungs.map((r) => r.playlist.segments.length));
    for (let i = 0; i < count; i++) {
      const durations = rungs.map((r) => r.playlist.segments[i]!.duration.toFixed(2));
      expect(new Set(durations).size, `segment ${i}: ${durations.join(' ')}`).toBe(1);
    }
    for (const r of rungs) {
      for (let i = 0; i < Math.min(count, 3); i++) {
        const base = r.url.slice(0, r.url.lastIndexOf('/') + 1);
        const init = Buffer.from(await (await fetch(base + r.playlist.mapUri!)).arrayBuffer());
        const seg = Buffer.from(await (await fetch(base + r.playlist.segments[i]!.uri)).arrayBuffer());
        const file = path.join(work, `k-${Math.random().toString(36).slice(2)}.mp4`);
        fs.writeFileSync(file, Buffer.concat([init, seg]));
        expect((await firstFrameOf(file)).keyFrame, `${r.url} #${i}`).toBe(true);
      }
    }
    // Live playlists are short-lived in caches; segments are immutable.
    const head = await fetch(rungs[0]!.url, { method: 'HEAD' });
    expect(head.headers.get('cache-control')).toBe('public, max-age=1');

    const health = await until('health', async () => {
      const h = await api<{
        speed: number | null;
        inputBitrate: number;
        passthrough: boolean;
        fps: number | null;
      }>('GET', `/api/events/${event.id}/live`);
      return h.json.speed !== null && h.json.inputBitrate > 0 ? h.json : undefined;
    });
    expect(health.passthrough).toBe(true);
    expect(health.speed).toBeGreaterThan(0.5);

    await publisher.exited; // a clean stop after 16 s
    const stoppedAt = Date.now();
    const replay = await until('the replay', async () => {
      const i = await info(event);
      return i.state === 'playable' && i.playback?.complete ? i : undefined;
    });
    const replayAfter = (Date.now() - stoppedAt) / 1000;
    expect(replayAfter).toBeLessThan(10);
    const vod = await rendition(replay.playback!.master, 0);
    const vodText = await text(vod.url);
    expect(vodText).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vodText).toContain('#EXT-X-ENDLIST');
    const seconds = vod.playlist.segments.reduce((s, x) => s + x.duration, 0);
    expect(seconds).toBeGreaterThan(10);
    const events = await api<{ endedAt: string; live: { status: string }; assetId: string }>(
      'GET',
      `/api/events/${event.id}`,
    );
    expect(events.json.live.status).toBe('ended');
    expect(events.json.endedAt).toBeTruthy();
    const asset = await api<{ status: string; durationSeconds: number }>(
      'GET',
      `/api/assets/${events.json.assetId}`,
    );
    expect(asset.json.status).toBe('ready');
    // Thumbnails and the scrubbing storyboard follow the replay (decoded from the lowest rung).
    const boarded = await until('the replay storyboard', async () => {
      const a = await api<{ playback: { storyboard: string | null } | null }>(
        'GET',
        `/api/assets/${events.json.assetId}`,
      );
      return a.json.playback?.storyboard ? a.json.playback.storyboard : undefined;
    });
    const vtt = await text(boarded);
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    expect((vtt.match(/ --> /g) ?? []).length).toBeGreaterThanOrEqual(5);

    // Webhooks: live.started, live.ended, asset.ready, each signed with the endpoint's secret.
    const mine = () => received.filter((r) => r.body.includes(event.id));
    await until('three webhooks', () => Promise.resolve(mine().length >= 3));
    expect(
      mine()
        .map((r) => r.type)
        .sort(),
    ).toEqual(['asset.ready', 'live.ended', 'live.started']);
    for (const r of mine()) {
      expect(verifyWebhook(hook.json.secret, r.body, r.signature, Math.floor(Date.now() / 1000))).toBe(true);
      expect(verifyWebhook('whsec_wrong', r.body, r.signature, Math.floor(Date.now() / 1000))).toBe(false);
    }
    // A deliberate stop ended the event at once; the key cannot start it again.
    const again = await obsLikePublish(`${event.live.rtmpUrl}/${event.live.streamKey}`);
    expect(again.description).toMatch(/ended/);
  });

  it("cuts every rung at the segment target with an encoder's default keyframes (x264: every 250 frames), and says what to change", async () => {
    const event = await createLiveEvent();
    const publisher = publish(event, { seconds: 14, keyframeSeconds: 250 / 30 });
    const live = await until('live playback', async () => {
      const i = await info(event);
      return i.state === 'playable' && i.playback?.live ? i : undefined;
    });
    await until(
      '5 segments on the top rung',
      async () => (await rendition(live.playback!.master, 0)).playlist.segments.length >= 5,
    );
    const rungs = await Promise.all([0, 1, 2].map((i) => rendition(live.playback!.master, i)));
    for (const r of rungs) {
      // Segments of the target length (1 s) on every rung, none of the encoder's 8.3 s.
      for (const s of r.playlist.segments.slice(0, 5)) expect(s.duration, r.url).toBeCloseTo(1, 1);
      expectParts(r.url, r.playlist);
    }
    const health = await until('the keyframe advice', async () => {
      const h = await api<{
        passthrough: boolean;
        keyframeSeconds: number | null;
        keyframeAdvice: string | null;
      }>('GET', `/api/events/${event.id}/live`);
      return h.json.keyframeAdvice ? h.json : undefined;
    });
    expect(health.passthrough).toBe(false);
    expect(health.keyframeSeconds).toBeCloseTo(8.33, 1);
    expect(health.keyframeAdvice).toMatch(/every 8\.3 s\. Set it to 1 s/);
    await publisher.stop();
  });

  it('LL-HLS with 2 s keyframes: parts on every rung, and a blocking request for the next part answered when it appears', async () => {
    const event = await createLiveEvent();
    const publisher = publish(event, { seconds: 20, keyframeSeconds: 2 });
    const live = await until('live playback', async () => {
      const i = await info(event);
      return i.state === 'playable' && i.playback?.live ? i : undefined;
    });
    await until(
      '4 segments on the top rung',
      async () => (await rendition(live.playback!.master, 0)).playlist.segments.length >= 4,
    );
    for (const i of [0, 1, 2]) {
      const r = await rendition(live.playback!.master, i);
      for (const s of r.playlist.segments.slice(0, 4)) expect(s.duration, r.url).toBeCloseTo(1, 1);
      expectParts(r.url, r.playlist);
    }
    // The next part, asked for before it exists (RFC 8216bis 6.2.5.2): held, then answered with a
    // playlist that lists it. Its appearance is watched in Redis, where the live job publishes.
    const { assetId } = (await api<{ assetId: string }>('GET', `/api/events/${event.id}`)).json;
    const top = await rendition(live.playback!.master, 0);
    const file = `${new URL(top.url).pathname.split('/').at(-2)}/index.m3u8`;
    const redis = new Redis(server.redisUrl);
    try {
      // The next part as of now, read where the live job publishes (an origin's copy may be 200 ms old).
      const edge = playlistEdge((await readLivePlaylist(redis, assetId, file))!);
      const want = { msn: edge.lastMsn + 1, part: edge.pendingParts };
      let appearedAt = 0;
      // Until it sees the part listed (it may see it a poll after the answer came), at most 5 s.
      const watchUntil = Date.now() + 5000;
      const watcher = (async () => {
        while (Date.now() < watchUntil) {
          const current = await readLivePlaylist(redis, assetId, file);
          if (current && blockingVerdict(playlistEdge(current), want) === 'ready') {
            appearedAt = Date.now();
            return;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const asked = Date.now();
      const answer = await fetch(`${top.url}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      const answeredAt = Date.now();
      await watcher;
      expect(answer.status).toBe(200);
      const body = await answer.text();
      expect(blockingVerdict(playlistEdge(body), want)).toBe('ready');
      // Held until the part was there (not answered at once with the old playlist), and woken by
      // its publication rather than by the 3-target-duration timeout. The delay is logged (the
      // benchmark measures latency; this is not a timing test).
      expect(appearedAt).toBeGreaterThan(0);
      expect(answeredAt).toBeGreaterThanOrEqual(appearedAt - 50);
      expect(answeredAt - asked).toBeLessThan(2500);
      console.info(
        `blocking request for ${want.msn}.${want.part}: held ${answeredAt - asked} ms, answered ${answeredAt - appearedAt} ms after the part was listed`,
      );
      // The part itself, from the origin (Redis), starts where the playlist says.
      const parts = parseMediaPlaylist(body);
      const listed = [...parts.segments.flatMap((s) => s.parts ?? []), ...parts.lowLatency!.pendingParts];
      const partUrl = new URL(listed.at(-1)!.uri, top.url).toString();
      const partResponse = await fetch(partUrl);
      expect(partResponse.status, partUrl).toBe(200);
      expect(
        Buffer.from(await partResponse.arrayBuffer())
          .subarray(4, 8)
          .toString(),
      ).toBe('moof');
    } finally {
      redis.disconnect();
    }
    await publisher.stop();
  });

  it('keeps the event live through an encoder drop: same event, a discontinuity, then ends by API', async () => {
    const event = await createLiveEvent();
    const first = publish(event);
    const live = await until('live', async () => {
      const i = await info(event);
      return i.playback?.live ? i : undefined;
    });
    await until(
      '3 segments',
      async () => (await rendition(live.playback!.master, 0)).playlist.segments.length >= 3,
    );
    await first.drop(); // connection lost, no deleteStream
    await until('reconnecting', async () => (await info(event)).liveStatus === 'reconnecting');
    expect((await info(event)).state).toBe('playable'); // viewers keep the page and player
    const second = publish(event);
    await until('a discontinuity and new segments after it', async () => {
      const r = await rendition(live.playback!.master, 0);
      const t = await text(r.url);
      const after = t.slice(t.indexOf('#EXT-X-DISCONTINUITY'));
      return discontinuities(t) === 1 && (after.match(/#EXTINF/g) ?? []).length >= 2;
    });
    expect((await info(event)).liveStatus).toBe('live');
    const before = await api<{ assetId: string }>('GET', `/api/events/${event.id}`);

    const ended = await api('POST', `/api/events/${event.id}/end`);
    expect(ended.status).toBe(200);
    const endAt = Date.now();
    const replay = await until('the replay', async () => {
      const i = await info(event);
      return i.playback?.complete ? i : undefined;
    });
    expect((Date.now() - endAt) / 1000).toBeLessThan(10);
    await second.exited; // the ingest cut the encoder when the event ended
    const vod = await rendition(replay.playback!.master, 0);
    expect(discontinuities(await text(vod.url))).toBe(1);
    const after = await api<{ assetId: string }>('GET', `/api/events/${event.id}`);
    expect(after.json.assetId).toBe(before.json.assetId);
    // The storyboard of a recording made of two periods (ffmpeg's concat demuxer over both).
    const board = await until('the storyboard', async () => {
      const a = await api<{ playback: { storyboard: string | null } | null }>(
        'GET',
        `/api/assets/${after.json.assetId}`,
      );
      return a.json.playback?.storyboard ?? undefined;
    });
    expect((await text(board)).startsWith('WEBVTT')).toBe(true);
  });

  it('never publishes a live playlist naming a segment that is not in storage (checked as each is published)', async () => {
    // Every live playlist the live job publishes goes through Redis: watch every SET as Redis runs it,
    // and look each listed file up in the server's storage (its media folder, or its S3 bucket) then.
    const storage = await serverStorage(server);
    // On local disk the check can be synchronous: at the very instant of publication.
    const root = storage.kind === 'local' ? path.join(server.dataDir, 'media') : undefined;
    const client = new Redis(server.redisUrl);
    const monitor = await client.monitor();
    const problems: string[] = [];
    const fetched: Promise<void>[] = [];
    const checked = new Set<string>();
    const published = new Map<string, Set<string>>();
    let media = 0;
    let masters = 0;
    monitor.on('monitor', (_time: string, args: string[]) => {
      try {
        check(args[0], args[1], args[2] === undefined ? undefined : unescapeMonitor(args[2]));
      } catch (err) {
        problems.push(`could not check ${args[1]}: ${String(err)}`);
      }
    });
    function check(command: string | undefined, key: string | undefined, value: string | undefined): void {
      const match = /^onair:live-hls:([^:]+):(.+)$/.exec(key ?? '');
      if (command?.toLowerCase() !== 'set' || !match || value === undefined) return;
      const [, assetId, file] = match as unknown as [string, string, string];
      const prefix = `assets/${assetId}/live`;
      const seen = published.get(assetId) ?? new Set<string>();
      published.set(assetId, seen);
      seen.add(file);
      if (file === 'master.m3u8') {
        masters += 1;
        // A master names only playlists already published.
        for (const v of parseMasterPlaylist(value).variants)
          if (!seen.has(v.uri)) problems.push(`master names ${v.uri} before it was published`);
        return;
      }
      media += 1;
      const dir = `${prefix}/${file.slice(0, file.lastIndexOf('/'))}`;
      const playlist = parseMediaPlaylist(value);
      const uris = new Set(playlist.segments.flatMap((s) => [s.uri, ...(s.mapUri ? [s.mapUri] : [])]));
      for (const uri of uris) {
        const key = `${dir}/${uri}`;
        // At the instant of publication (no await in between), where storage is a folder here...
        if (root && !fs.existsSync(path.join(root, key)))
          problems.push(`${file} named ${uri} before it was stored`);
        // ...and its bytes, through the storage interface (S3: a moment later; nothing deletes them),
        // once per file: LL-HLS publishes each playlist several times a second, and a GET per listed
        // file per publication swamped the S3 server.
        if (checked.has(key)) continue;
        checked.add(key);
        fetched.push(
          storage.readBytes(key).then(
            (bytes) => {
              if (!bytes?.length) problems.push(`${file} names ${uri}, which storage does not have`);
            },
            (err: unknown) =>
              void problems.push(`${file} names ${uri}, which storage could not read: ${String(err)}`),
          ),
        );
      }
    }
    try {
      const event = await createLiveEvent();
      const first = publish(event, { keyframeSeconds: 1 });
      await until('live', async () => (await info(event)).playback?.live);
      await until('a few published playlists', () => media >= 20);
      await first.drop();
      await until('reconnecting', async () => (await info(event)).liveStatus === 'reconnecting');
      const second = publish(event, { keyframeSeconds: 1, seconds: 6 });
      await second.exited;
      await until('the replay', async () => (await info(event)).playback?.complete, 30_000);
    } finally {
      // After `disconnect()` ioredis no longer treats a MONITOR line still in the socket as one and
      // emits "Command queue state error": QUIT is answered in order, after the lines before it.
      monitor.on('error', () => undefined);
      await monitor.quit().catch(() => undefined);
      client.disconnect();
      storage.close();
    }
    await Promise.all(fetched);
    expect(problems).toEqual([]);
    expect(masters).toBeGreaterThanOrEqual(1);
    expect(media).toBeGreaterThan(30);
  });

  it('moves a stream to another worker when its worker is killed, keeping what was recorded', async () => {
    const event = await createLiveEvent();
    publish(event);
    const live = await until('live', async () => {
      const i = await info(event);
      return i.playback?.live ? i : undefined;
    });
    await until(
      '3 segments',
      async () => (await rendition(live.playback!.master, 0)).playlist.segments.length >= 3,
    );
    const before = (await rendition(live.playback!.master, 0)).playlist;
    // The worker running this stream is the parent of the ffmpeg pulling it.
    // The ingest publishes the stream under the event id: the pull never names the key.
    const ffmpegPid = execFileSync('pgrep', ['-f', `live/${event.id}`], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .find((pid) => {
        const cmdline = pid > 0 ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') : '';
        // The pull (signed URL), not the test's own publisher.
        return cmdline.startsWith('ffmpeg') && cmdline.includes('sign=');
      });
    expect(ffmpegPid).toBeDefined();
    const workerPid = Number(
      fs.readFileSync(`/proc/${ffmpegPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1],
    );
    expect(server.workerPids()).toContain(workerPid);
    const killedAt = Date.now();
    process.kill(workerPid, 'SIGKILL');

    await until(
      'a new period after the takeover',
      async () => {
        const t = await text((await rendition(live.playback!.master, 0)).url);
        const after = t.slice(t.indexOf('#EXT-X-DISCONTINUITY'));
        return discontinuities(t) === 1 && (after.match(/#EXTINF/g) ?? []).length >= 1;
      },
      40_000,
    );
    const takeoverSeconds = (Date.now() - killedAt) / 1000;
    console.info(`live takeover after a worker SIGKILL: ${takeoverSeconds.toFixed(1)} s`);
    // A ceiling, not a figure (the figure is printed above): on a loaded 2-core CI machine, with
    // the other backend's suite beside it, a takeover has taken 16-26 s.
    expect(takeoverSeconds).toBeLessThan(40);
    // The orphaned ffmpeg of the dead worker was stopped; what it recorded is still listed.
    expect(
      fs.existsSync(`/proc/${ffmpegPid}`) &&
        fs.readFileSync(`/proc/${ffmpegPid}/stat`, 'utf8').includes(' Z ') === false,
    ).toBe(false);
    const after = (await rendition(live.playback!.master, 0)).playlist;
    expect(after.segments.map((s) => s.uri)).toEqual(
      expect.arrayContaining(before.segments.map((s) => s.uri)),
    );
    // Nobody wrote a pid down or kept a work folder: the recording is media, playlists and live.json
    // (and the storage adapter's own in-flight `.part`/`.tmp` files).
    const { json } = await api<{ assetId: string }>('GET', `/api/events/${event.id}`);
    const storage = await serverStorage(server);
    const stored = await storage.list(`assets/${json.assetId}`);
    storage.close();
    expect(stored.some((f) => f.endsWith('/live/live.json'))).toBe(true);
    expect(stored.filter((f) => !/\.(m4s|mp4|m3u8|part|tmp)$|\/live\/live\.json$/.test(f))).toEqual([]);
    await api('POST', `/api/events/${event.id}/end`);
    await until('the replay', async () => (await info(event)).playback?.complete);
  });
});

/**
 * The live session in this process, against a real RTMP ingest, ffmpeg, segment sink, Redis and
 * local storage: what the job's abort reasons do to it.
 */
describe('the live session when its job is taken away', () => {
  const playSecret = 'test-play-secret';
  let ingest: RunningIngest;
  let redis: Redis;
  let storage: WriteLog;
  const quiet = createLogger('error');

  /** Local storage that notes when each write started. */
  class WriteLog extends LocalStorage {
    readonly starts: { key: string; at: number }[] = [];
    override putBytes(key: string, body: Buffer | string, opts?: { contentType?: string }): Promise<void> {
      this.starts.push({ key, at: performance.now() });
      return super.putBytes(key, body, opts);
    }
    override putStream(key: string, body: Readable, opts?: { maxBytes?: number; contentType?: string }) {
      this.starts.push({ key, at: performance.now() });
      return super.putStream(key, body, opts);
    }
  }

  beforeAll(async () => {
    ingest = await startLoopbackIngest({
      dataDir: work,
      log: quiet,
      playSecret,
      streamName: () => 'in-process',
    });
    storage = new WriteLog(path.join(work, 'media'));
    redis = new Redis(server.redisUrl);
  });

  afterAll(async () => {
    await ingest?.stop();
    redis?.disconnect();
  });

  function openSession(assetId: string, over: () => 'organiser-ended' | undefined = () => undefined) {
    const config = loadConfig(testEnv(work));
    return LiveSession.open({
      eventId: 'ev_in_process',
      assetId,
      storage,
      redis,
      lowLatency: true,
      log: quiet,
      config,
      tickMs: 100,
      pullUrl: () => signedPullUrl('127.0.0.1', ingest.port, 'in-process', playSecret),
      watch: {
        publisher: () =>
          Promise.resolve({
            session: 'pub-1',
            ingestHost: '127.0.0.1',
            ingestPort: ingest.port,
            since: 0,
            inputBitrate: 1,
          }),
        presenterStopped: () => Promise.resolve(false),
        over: () => Promise.resolve(over()),
      },
    });
  }

  /** An encoder pushing to the in-process ingest (any key is accepted there). */
  function encode(): Publisher {
    const p = startPublisher(`rtmp://127.0.0.1:${ingest.port}/live/k`, { keyframeSeconds: 1 });
    publishers.push(p);
    return p;
  }

  /** The ffmpeg this process runs for the session (its pull carries a signed URL). */
  const livePulls = () => childProcesses(process.pid).filter((c) => c.cmdline.includes('sign='));

  async function onAirWithSegments(session: LiveSession, segments: number): Promise<void> {
    let published = 0;
    let onAir = false;
    session.on('on-air', () => void (onAir = true));
    session.on('playlist', ({ file }) => void (file.startsWith('720p/') && (published += 1)));
    // Every rung encoded (this test's publisher reports no keyframe cadence): slow on a loaded CI.
    await until('on air with a few segments', () => onAir && published >= segments, 90_000);
  }

  it('lost lock: kills its own ffmpeg at once and starts no write after the abort', async () => {
    const encoder = encode();
    const session = await openSession('as_lock_lost');
    const job = new AbortController();
    const running = session.run({ signal: job.signal, abandon: (why) => why === 'lock lost' });
    await onAirWithSegments(session, 3);
    const ffmpeg = livePulls();
    expect(ffmpeg).toHaveLength(1);
    const abortedAt = performance.now();
    job.abort('lock lost');
    await expect(running).rejects.toMatchObject({ abandoned: true });
    expect(performance.now() - abortedAt).toBeLessThan(2000);
    expect(isAlive(ffmpeg[0]!.pid)).toBe(false);
    // A publication sent just before the abort may land just after it (parts come every 1/3 s):
    // what counts is that nothing changes from here on.
    const published = await redis.get('onair:live-hls:as_lock_lost:720p/index.m3u8');
    await new Promise((r) => setTimeout(r, 1500));
    expect(storage.starts.filter((w) => w.key.includes('as_lock_lost') && w.at > abortedAt)).toEqual([]);
    expect(await redis.get('onair:live-hls:as_lock_lost:720p/index.m3u8')).toBe(published);
    await encoder.drop();
  });

  it('shutdown: ffmpeg ends its segment, the next worker resumes from storage with a new period', async () => {
    const encoder = encode();
    const first = await openSession('as_handover');
    const job = new AbortController();
    const running = first.run({ signal: job.signal, abandon: (why) => why === 'lock lost' });
    await onAirWithSegments(first, 3);
    job.abort('shutdown');
    await expect(running).rejects.toMatchObject({ abandoned: false });
    expect(livePulls()).toEqual([]);
    const period = JSON.parse((await storage.readText('assets/as_handover/live/live.json'))!) as {
      periods: { name: string; startedAtMs: number }[];
    };
    expect(period.periods).toHaveLength(1);
    // ffmpeg was stopped with SIGINT: its last playlist (with its end) reached storage.
    const stored = await storage.readText(
      `assets/as_handover/live/720p/${period.periods[0]!.name}/index.m3u8`,
    );
    expect(stored).toContain('#EXT-X-ENDLIST');
    const before = parseMediaPlaylist(stored!).segments.length;

    let ended = false;
    const second = await openSession('as_handover', () => (ended ? 'organiser-ended' : undefined));
    expect(second.resumed).toBe(true);
    const again = second.run();
    await onAirWithSegments(second, 2);
    ended = true;
    expect(await again).toBe('organiser-ended');
    const recording = (await second.finish())!;
    const top = recording.playlists.get('720p')!;
    expect(top.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    expect(top.segments.findIndex((s) => s.discontinuity)).toBe(before);
    expect(new Set(top.segments.map((s) => s.uri.split('/')[0])).size).toBe(2);
    expect(await redis.get('onair:live-hls:as_handover:720p/index.m3u8')).toContain('#EXT-X-ENDLIST');
    await encoder.drop();
  });
});
