import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { apiCall, until } from '../helpers/api.ts';
import { startPublisher, type Publisher } from '../helpers/live.ts';
import { startLossyRelay } from '../helpers/lossy-udp-relay.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * SRT into the same live pipeline as RTMP, through the whole server: the gatekeeper checks the
 * streamid before any media is accepted, a bridge hands the stream to the RTMP ingest, and the
 * live job, LL-HLS, the replay and health are those of any live event.
 */
let server: TestServer;
const publishers: Publisher[] = [];

beforeAll(async () => {
  server = await startTestServer({ LIVE_RECONNECT_GRACE_SECONDS: '20' });
}, 60_000);

afterAll(async () => {
  for (const p of publishers) await p.drop();
  await server?.close();
});

interface LiveEvent {
  id: string;
  webinarId: string;
  live: { srtUrl: string | null; streamKey: string; status: string };
}

interface Info {
  liveStatus: string | null;
  playback: { master: string; live: boolean; complete: boolean } | null;
}

async function createLiveEvent(): Promise<LiveEvent> {
  const { status, json } = await apiCall<LiveEvent>(server, 'POST', '/api/events', {
    title: 'From the hotel',
    type: 'live',
  });
  expect(status).toBe(201);
  return json;
}

async function info(event: LiveEvent): Promise<Info> {
  const response = await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/info.json`);
  return (await response.json()) as Info;
}

function publish(url: string, spec: Parameters<typeof startPublisher>[1] = {}): Publisher {
  const p = startPublisher(url, { width: 640, height: 360, ...spec });
  publishers.push(p);
  return p;
}

async function text(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return response.text();
}

/** Every rung's playlist, with the number of segments each lists. */
async function rungs(master: string): Promise<{ url: string; segments: number; discontinuities: number }[]> {
  const variants = parseMasterPlaylist(await text(master)).variants;
  return Promise.all(
    variants.map(async (v) => {
      const url = new URL(v.uri, master).toString();
      const playlist = parseMediaPlaylist(await text(url));
      return {
        url,
        segments: playlist.segments.length,
        discontinuities: playlist.segments.filter((s) => s.discontinuity).length,
      };
    }),
  );
}

async function liveHealth(event: LiveEvent) {
  return (await apiCall<Record<string, unknown>>(server, 'GET', `/api/events/${event.id}/live`)).json;
}

describe('SRT ingest', () => {
  it('shows the SRT URL, refuses a wrong streamid before any media flows, and publishes nothing', async () => {
    const event = await createLiveEvent();
    expect(event.live.srtUrl).toMatch(/^srt:\/\/[^?]+:\d+\?streamid=/);
    const url = new URL(event.live.srtUrl!);
    url.searchParams.set('streamid', 'not-the-key');
    let stderr = '';
    const wrong = publish(url.toString(), { seconds: 5, stderr: (t) => (stderr += t) });
    const started = Date.now();
    expect(await wrong.exited).not.toBe(0);
    // Refused in the handshake: the encoder knows within its connect timeout, not after a stream.
    expect(Date.now() - started).toBeLessThan(8000);
    expect(stderr).toMatch(/reject/i);
    const live = await liveHealth(event);
    expect(live.protocol).toBeNull();
    expect((await info(event)).playback).toBeNull();
  });

  it("an encoder on SRT with x264's default keyframes goes live on every rung, and stopping gives the replay", async () => {
    const event = await createLiveEvent();
    // 250-frame keyframes (x264's default): every rung is still cut at the segment target.
    const encoder = publish(event.live.srtUrl!, { keyframeSeconds: 250 / 30, seconds: 16 });
    await until('live', async () => (await info(event)).playback?.live, 30_000);
    const { playback } = await info(event);
    await until(
      'three segments on every rung',
      async () => (await rungs(playback!.master)).every((r) => r.segments >= 3),
      30_000,
    );
    const live = await liveHealth(event);
    expect(live.protocol).toBe('srt');
    expect(live.status).toBe('live');
    // ffmpeg ends its SRT connection properly after 16 s (SHUTDOWN): the presenter stopped.
    expect(await encoder.exited).toBe(0);
    await until('the replay', async () => (await info(event)).playback?.complete, 40_000);
    expect((await info(event)).liveStatus).toBe('ended');
  });

  it('an event that requires encryption takes only callers with its passphrase', async () => {
    const { status, json: event } = await apiCall<LiveEvent & { live: { srtPassphrase: string | null } }>(
      server,
      'POST',
      '/api/events',
      { title: 'Encrypted', type: 'live', srtEncryption: true },
    );
    expect(status).toBe(201);
    const passphrase = event.live.srtPassphrase;
    expect(passphrase).toMatch(/^[\w-]{32}$/);
    expect(new URL(event.live.srtUrl!).searchParams.get('passphrase')).toBe(passphrase);
    // Derived, never stored: the event's row does not hold it.
    const db = serverDatabase(server);
    const row = await db.selectFrom('events').selectAll().where('id', '=', event.id).executeTakeFirst();
    await db.destroy();
    expect(JSON.stringify(row)).not.toContain(passphrase);
    const clear = new URL(event.live.srtUrl!);
    clear.searchParams.delete('passphrase');
    let stderr = '';
    const plain = publish(clear.toString(), { seconds: 5, stderr: (t) => (stderr += t) });
    expect(await plain.exited).not.toBe(0);
    expect(stderr).toMatch(/reject|secret|encrypt/i);
    // The refused caller claimed nothing: the right one goes live at once.
    const encoder = publish(event.live.srtUrl!, { keyframeSeconds: 1, seconds: 30 });
    await until('live', async () => (await info(event)).playback?.live, 30_000);
    expect((await liveHealth(event)).protocol).toBe('srt');
    await encoder.drop();
  });

  it('keeps playing through a network that loses 5 % of packets both ways', async () => {
    const event = await createLiveEvent();
    const target = new URL(event.live.srtUrl!);
    const relay = await startLossyRelay({
      target: { host: target.hostname, port: Number(target.port) },
      lossRatio: 0.05,
      seed: 7,
    });
    try {
      const via = new URL(event.live.srtUrl!);
      via.port = String(relay.port);
      publish(via.toString(), { keyframeSeconds: 1, seconds: 25, srtLatencyMs: 500 });
      await until('live', async () => (await info(event)).playback?.live, 30_000);
      const { playback } = await info(event);
      await until(
        'twelve segments on the top rung',
        async () => ((await rungs(playback!.master))[0]?.segments ?? 0) >= 12,
        40_000,
      );
      const stats = relay.stats();
      // The loss was real, and SRT repaired it: losses reported (NAK) and packets sent again.
      expect(stats.dropped / stats.packets).toBeGreaterThan(0.03);
      expect(stats.naks).toBeGreaterThan(0);
      expect(stats.retransmits).toBeGreaterThan(0);
      // One period from start to here: the stream never broke, and nothing was dropped.
      for (const r of await rungs(playback!.master)) expect(r.discontinuities, r.url).toBe(0);
      const live = await liveHealth(event);
      expect(live.periods).toBe(1);
      expect(live.droppedSegments).toBe(0);
    } finally {
      await relay.close();
    }
  });
});
