import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall, until } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * A presenter without OBS: the presenter page in Chromium (a fake camera and microphone) goes live
 * over WHIP; a viewer in another browser context watches the live HLS; End gives the replay.
 */
let server: TestServer;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  server = await startTestServer({ LIVE_RECONNECT_GRACE_SECONDS: '20' });
  ({ browser, close: closeBrowser } = await launchChromium({ fakeMedia: true }));
}, 60_000);

afterAll(async () => {
  await closeBrowser?.();
  await server?.close();
});

interface LiveEvent {
  id: string;
  webinarId: string;
  assetId: string | null;
  live: { whipUrl: string | null; streamKey: string; presenterPageUrl: string };
}

interface Info {
  liveStatus: string | null;
  playback: { master: string; live: boolean; complete: boolean } | null;
}

async function info(event: LiveEvent): Promise<Info> {
  const response = await fetch(`${server.url}/w/${event.webinarId.replace(/-/g, '')}/info.json`);
  return (await response.json()) as Info;
}

async function createLiveEvent(title: string): Promise<LiveEvent> {
  const { status, json } = await apiCall<LiveEvent>(server, 'POST', '/api/events', { title, type: 'live' });
  expect(status).toBe(201);
  return json;
}

const state = (page: Page) => page.getAttribute('#state', 'data-state');

/** Posts a real offer (the endpoint checks the codecs before the key: a bad offer claims nothing). */
async function postOffer(page: Page, whipUrl: string, key: string | undefined): Promise<number> {
  const offer = await page.evaluate(async () => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'sendonly' });
    pc.addTransceiver('audio', { direction: 'sendonly' });
    const made = await pc.createOffer();
    pc.close();
    return made.sdp!;
  });
  const response = await fetch(whipUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: offer,
  });
  return response.status;
}

describe('going live from the browser (WHIP)', () => {
  let signedIn: Page;

  beforeAll(async () => {
    const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
    signedIn = await context.newPage();
    await signedIn.goto(`${server.url}/admin`);
    await claimAsOwner(signedIn, {
      name: 'Olga Owner',
      email: 'owner@example.com',
      password: 'a long enough password',
      apiKey: server.apiKey,
    });
    await signedIn.waitForSelector('#library');
  });

  it('the presenter goes live with camera and microphone, a viewer watches, others are refused, End gives the replay', async () => {
    const event = await createLiveEvent('Browser keynote');
    expect(event.live.whipUrl).toBe(`${server.url}/whip/endpoint`);
    expect(event.live.presenterPageUrl).toBe(`${server.url}/present/${event.id}`);
    const page = signedIn;
    await page.goto(`${server.url}/present/${event.id}`);
    await page.waitForSelector('#go-live:enabled');
    expect(await seriousViolations(page)).toEqual([]);
    await page.click('#go-live');
    await until('the presenter page says live', async () => (await state(page)) === 'live', 30_000);
    await until('live HLS', async () => (await info(event)).playback?.live, 40_000);
    const live = await apiCall<{ protocol: string; status: string }>(
      server,
      'GET',
      `/api/events/${event.id}/live`,
    );
    expect(live.json.protocol).toBe('whip');
    // At the WHIP endpoint: a second publisher on the key is refused, as are unknown and missing keys.
    expect(await postOffer(page, event.live.whipUrl!, event.live.streamKey)).toBe(409);
    expect(await postOffer(page, event.live.whipUrl!, 'not-a-key')).toBe(401);
    expect(await postOffer(page, event.live.whipUrl!, undefined)).toBe(401);
    // The page measures what it sends.
    await until(
      'outgoing bitrate shown',
      async () => Number(await page.getAttribute('#bitrate', 'data-bps')) > 0,
    );
    expect(Number(await page.getAttribute('#resolution', 'data-width'))).toBeGreaterThan(0);
    await screenshot(page, 'presenter-live');

    // A viewer, in a context of its own, plays the live stream.
    const viewerContext = await browser.newContext();
    const viewer = await viewerContext.newPage();
    await viewer.goto(`${server.url}/w/${event.webinarId.replace(/-/g, '')}`);
    await until(
      'the viewer plays',
      () =>
        viewer.evaluate(() => {
          const p = (window as unknown as { onairPlayer?: { video: HTMLVideoElement } }).onairPlayer;
          return (p?.video.currentTime ?? 0) > 2;
        }),
      40_000,
    );
    await viewerContext.close();

    await page.click('#end');
    await until('the page says ended', async () => (await state(page)) === 'ended', 15_000);
    await until('the replay', async () => (await info(event)).playback?.complete, 40_000);
    expect((await info(event)).liveStatus).toBe('ended');
    const { json } = await apiCall<LiveEvent>(server, 'GET', `/api/events/${event.id}`);
    const asset = await apiCall<{ status: string }>(server, 'GET', `/api/assets/${json.assetId}`);
    expect(asset.json.status).toBe('ready');
  });

  it('a guest presenter goes live with a presenter link, without signing in', async () => {
    const event = await createLiveEvent('Guest keynote');
    // The owner makes the link on the event's page in the app.
    await signedIn.goto(`${server.url}/admin/events/${event.id}`);
    await signedIn.click('#presenter-link');
    await signedIn.waitForSelector('#presenter-link-url:visible');
    const url = await signedIn.inputValue('#presenter-link-url');
    expect(url.startsWith(`${server.url}/present/${event.id}#link=`)).toBe(true);
    expect(await signedIn.textContent('#presenter-link-expiry')).toMatch(/^Works until /);
    const token = decodeURIComponent(url.split('#link=')[1]!);
    // A browser that never signed in.
    const guest = await browser.newContext({ permissions: ['camera', 'microphone'] });
    try {
      const page = await guest.newPage();
      const requested: string[] = [];
      page.on('request', (r) => {
        if (!r.isNavigationRequest()) requested.push(r.url());
      });
      await page.goto(url);
      await page.waitForSelector('#go-live:enabled');
      expect(await page.textContent('#event-title')).toBe('Go live: Guest keynote');
      // The token left the address bar; the page read the event with it, not with a session.
      expect(page.url()).toBe(`${server.url}/present/${event.id}`);
      expect(requested).toContain(`${server.url}/api/present/${event.id}`);
      expect(requested.some((u) => u.includes('/api/events') || u.includes('/api/auth'))).toBe(false);
      expect(requested.some((u) => u.includes(encodeURIComponent(token)) || u.includes(token))).toBe(false);
      await page.click('#go-live');
      await until('the guest is live', async () => (await state(page)) === 'live', 30_000);
      await until('live HLS', async () => (await info(event)).playback?.live, 40_000);
      await page.click('#end');
      await until('the page says ended', async () => (await state(page)) === 'ended', 15_000);
      // End sent the WHIP DELETE: the event ends with it.
      await until('the event ended', async () => (await info(event)).liveStatus === 'ended', 30_000);
      expect(requested.some((u) => u.endsWith(`/api/events/${event.id}/end`))).toBe(false);
    } finally {
      await guest.close();
    }
  });

  it('a wrong stream key shows a message and publishes nothing', async () => {
    const event = await createLiveEvent('Wrong key');
    const page = signedIn;
    await page.goto(`${server.url}/present/${event.id}`);
    await page.waitForSelector('#go-live:enabled');
    // The key changes after the page read it: the page still holds the old one.
    await apiCall(server, 'POST', `/api/events/${event.id}/stream-key`);
    await page.click('#go-live');
    await until('a message', async () => ((await page.textContent('#message')) ?? '').length > 0, 15_000);
    expect(await page.textContent('#message')).toMatch(/stream key/i);
    expect(await state(page)).not.toBe('live');
    const live = await apiCall<{ protocol: string | null }>(server, 'GET', `/api/events/${event.id}/live`);
    expect(live.json.protocol).toBeNull();
    expect((await info(event)).playback).toBeNull();
  });
});
