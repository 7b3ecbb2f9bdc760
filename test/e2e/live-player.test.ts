import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { startPublisher, type Publisher } from '../helpers/live.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
const publishers: Publisher[] = [];

beforeAll(async () => {
  server = await startTestServer({ RTMP_PORT: '0', LIVE_RECONNECT_GRACE_SECONDS: '30' });
});

afterAll(async () => {
  for (const p of publishers) await p.drop();
  await server?.close();
});

interface PageState {
  hasPlayer: boolean;
  engine: string | null;
  time: number;
  latency: number | null;
  live: boolean;
  duration: number;
  marker: unknown;
  paused: boolean;
  /** Parts hls.js knows of in the playing level (LL-HLS), and its target latency. */
  parts: number;
  targetLatency: number | null;
}

describe('a viewer watches a live webinar', () => {
  it('waits in the waiting room, switches to the stream by itself, plays near the live edge, rides out a reconnect, then gets the replay', async () => {
    const startsAt = new Date(Date.now() + 5 * 60_000);
    const response = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Quarterly launch', type: 'live', startsAt: startsAt.toISOString() }),
    });
    const event = (await response.json()) as {
      webinarId: string;
      live: { rtmpUrl: string; streamKey: string };
    };
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage({ timezoneId: 'America/New_York', locale: 'en-US' });
      page.on('pageerror', (e) => console.error('page error:', e.message));
      await page.goto(`${server.url}/w/${event.webinarId.replace(/-/g, '')}`);
      await page.waitForSelector('#waiting:not([hidden])');
      // The start time in the viewer's own zone, and a countdown.
      expect(await page.textContent('#starts-at')).toMatch(/EST|EDT/);
      expect(await page.textContent('#countdown')).toMatch(/^00:0[45]:\d\d$/);
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

      const state = () =>
        page.evaluate(() => {
          const p = (
            window as unknown as {
              onairPlayer?: {
                engine: string;
                video: HTMLVideoElement;
                hls?:
                  | {
                      latency: number;
                      targetLatency: number | null;
                      currentLevel: number;
                      levels: { details?: { partList: unknown[] | null } }[];
                    }
                  | undefined;
              };
              marker?: unknown;
            }
          ).onairPlayer;
          return {
            hasPlayer: Boolean(p),
            engine: p?.engine ?? null,
            time: p?.video.currentTime ?? 0,
            latency: p?.hls?.latency ?? null,
            live: !document.querySelector('.live-badge')?.hasAttribute('hidden'),
            duration: p?.video.duration ?? 0,
            marker: (window as unknown as { marker?: unknown }).marker,
            paused: p?.video.paused ?? true,
            parts: p?.hls?.levels[Math.max(0, p.hls.currentLevel)]?.details?.partList?.length ?? 0,
            targetLatency: p?.hls?.targetLatency ?? null,
          } satisfies PageState;
        });
      const waitFor = async (what: string, ok: (s: PageState) => boolean, timeoutMs = 30_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const s = await state();
          if (ok(s)) return s;
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
          await page.waitForTimeout(250);
        }
      };

      const url = `${event.live.rtmpUrl}/${event.live.streamKey}`;
      const first = startPublisher(url);
      publishers.push(first);
      const playing = await waitFor('live playback', (s) => s.hasPlayer && s.time > 2);
      expect(playing.engine).toBe('hls.js');
      expect(playing.live).toBe(true);
      expect(await page.isHidden('#waiting')).toBe(true);
      // Near the live edge (the latency benchmark measures this properly).
      const settled = await waitFor('a latency estimate', (s) => s.latency !== null && s.latency > 0);
      expect(settled.latency!).toBeLessThan(8);
      // Low-Latency HLS: hls.js reads the parts and aims at the playlist's PART-HOLD-BACK (1 s),
      // plus up to one target duration (1 s) after a stall at start on a loaded machine.
      expect(settled.parts).toBeGreaterThan(0);
      expect(settled.targetLatency).toBeGreaterThanOrEqual(0.99);
      expect(settled.targetLatency).toBeLessThanOrEqual(2.01);
      const near = await waitFor('playback near the live edge', (s) => s.latency !== null && s.latency < 3);
      console.info(`hls.js latency to the live edge: ${near.latency!.toFixed(2)} s`);

      // The encoder drops and comes back: the same player keeps going, no reload.
      await first.drop();
      const atDrop = (await state()).time;
      await page.waitForTimeout(3000);
      const second = startPublisher(url, { seconds: 12 });
      publishers.push(second);
      const resumed = await waitFor('playback after the reconnect', (s) => s.time > atDrop + 5, 40_000);
      expect(resumed.marker).toBe(42);
      expect(resumed.paused).toBe(false);

      // The presenter stops: the stream plays out and the page offers the replay.
      await second.exited;
      const replay = await waitFor(
        'the replay player',
        (s) => s.hasPlayer && Number.isFinite(s.duration) && s.duration > 10,
        60_000,
      );
      expect(replay.marker).toBe(42);
    } finally {
      await close();
    }
  });
});
