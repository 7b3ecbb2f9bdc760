import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Interactions } from '../../src/automated/interactions.ts';
import { apiCall } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let work: string;
let assetId: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-timeline-'));
  server = await startTestServer();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 20 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status).toBe('ready');
  expect(asset.playback?.storyboard).toBeTruthy();
  assetId = asset.id;
  chromium = await launchChromium();
}, 180_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const interactionsOf = async (id: string) =>
  (await apiCall<{ interactions: Interactions }>(server, 'GET', `/api/events/${id}`)).json.interactions;

async function signInAsOwner(page: Page): Promise<void> {
  await page.goto(`${server.url}/admin`);
  await claimAsOwner(page, {
    name: 'Olga Owner',
    email: 'owner@example.com',
    password: 'a long enough password',
    apiKey: server.apiKey,
  });
  await page.waitForSelector('#whoami:has-text("owner of")');
}

async function place(page: Page, kind: string, at: string, fields: Record<string, string>): Promise<void> {
  await page.selectOption('#timeline-kind', kind);
  await page.fill('#timeline-at', at);
  for (const [selector, value] of Object.entries(fields)) await page.fill(selector, value);
  await page.click('#timeline-place');
}

async function save(page: Page): Promise<void> {
  await page.click('#timeline-save');
  await page.waitForSelector('#timeline-state:has-text("Everything is saved.")');
  await page.waitForSelector('#timeline-status:has-text("Saved.")');
}

describe('the interactions timeline of an automated webinar', () => {
  it('places, edits and deletes a CTA, a poll and chat; a viewer of a session sees the CTA at its time', async () => {
    const created = await apiCall<{ id: string; webinarId: string }>(server, 'POST', '/api/events', {
      title: 'Timeline demo',
      type: 'automated',
      assetId,
      schedule: {
        kind: 'once',
        timezone: 'Europe/Rome',
        startsAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    expect(created.status).toBe(201);
    const event = created.json;

    const page = await (await chromium.browser.newContext()).newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await signInAsOwner(page);
    await page.goto(`${server.url}/admin/events/${event.id}`);
    await page.waitForSelector('#timeline-scrubber');
    expect(Number(await page.getAttribute('#timeline-scrubber', 'max'))).toBeCloseTo(20, 0);
    // The storyboard's stills are along the strip.
    await page.waitForSelector('.tl-track[data-stills]', { state: 'attached' });
    expect(Number(await page.getAttribute('.tl-track', 'data-stills'))).toBeGreaterThan(3);

    // The scrubber by keyboard: a second per arrow, ten per page; the time field follows.
    await page.focus('#timeline-scrubber');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    expect(await page.inputValue('#timeline-at')).toBe('0:03');
    await page.keyboard.press('PageUp');
    expect(await page.inputValue('#timeline-at')).toBe('0:13');
    expect(await page.getAttribute('#timeline-scrubber', 'aria-valuetext')).toMatch(/^0:13 of 0:2\d/);
    // Typing a time moves the scrubber; the still under it shows until the preview plays from there.
    await page.fill('#timeline-at', '0:08');
    expect(await page.inputValue('#timeline-scrubber')).toBe('8');
    expect(await page.isVisible('.tl-still')).toBe(true);
    expect(await page.isVisible('.tl-video')).toBe(false);
    await page.click('#timeline-play');
    await page.waitForSelector('#timeline-play:has-text("Pause preview")');
    await page.waitForFunction(
      () => document.querySelector<HTMLVideoElement>('.tl-video')!.currentTime > 8.5,
    );
    await page.click('#timeline-play');
    await page.waitForSelector('#timeline-play:has-text("Play preview")');
    const played = await page.evaluate(
      () => document.querySelector<HTMLVideoElement>('.tl-video')!.currentTime,
    );
    expect(played).toBeGreaterThan(8.5);
    expect(played).toBeLessThan(16);
    // The scrubber followed the playing preview; back to 0:08 to place the CTA.
    expect(Number(await page.inputValue('#timeline-scrubber'))).toBeGreaterThan(8.4);
    await page.fill('#timeline-at', '0:08');

    // A plain-http link is caught before saving.
    await page.fill('#timeline-headline', 'Book a demo');
    await page.fill('#timeline-button-label', 'Book');
    await page.fill('#timeline-url', 'http://example.com/demo');
    await page.fill('#timeline-seconds', '6');
    await page.click('#timeline-place');
    await page.waitForSelector('#timeline-url-error:has-text("https://")');
    expect(await page.getAttribute('#timeline-url', 'aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('timeline-url');
    await page.fill('#timeline-url', 'https://example.com/demo');
    await page.click('#timeline-place');
    await page.waitForSelector('#timeline-items li:has-text("0:08–0:14")');

    await place(page, 'poll', '0:15', {
      '#timeline-seconds': '4',
      '#timeline-question': 'Team size?',
      '#timeline-option-1': '1-10',
      '#timeline-option-2': '11+',
    });
    await place(page, 'chat', '0:03', { '#timeline-author': 'Host', '#timeline-text': 'Welcome!' });
    expect(await page.locator('#timeline-items li').allTextContents()).toEqual([
      expect.stringContaining('0:03Chat messageHost: Welcome!'),
      expect.stringContaining('0:08–0:14Call-to-actionBook a demo'),
      expect.stringContaining('0:15–0:19PollTeam size?'),
    ]);
    expect(await page.locator('.tl-lanes .tl-marker').count()).toBe(3);
    expect(await page.textContent('#timeline-state')).toBe('Unsaved changes.');
    await save(page);

    let saved = await interactionsOf(event.id);
    expect(saved.ctas).toEqual([
      {
        id: expect.stringMatching(/^cta-[a-z0-9]+$/) as unknown,
        headline: 'Book a demo',
        buttonLabel: 'Book',
        url: 'https://example.com/demo',
        start: 8,
        end: 14,
      },
    ]);
    expect(saved.polls).toMatchObject([
      { question: 'Team size?', options: ['1-10', '11+'], start: 15, end: 19 },
    ]);
    expect(saved.chat).toMatchObject([{ at: 3, author: 'Host', text: 'Welcome!' }]);
    const ctaId = saved.ctas[0]!.id;
    const chatId = saved.chat[0]!.id;

    // Edit the chat message (time and text), delete the poll.
    await page.click('#timeline-items li:has-text("Welcome!") .tl-edit');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('timeline-author');
    expect(await page.inputValue('#timeline-at')).toBe('0:03');
    await page.fill('#timeline-at', '0:05');
    await page.fill('#timeline-text', 'Welcome, everyone!');
    await page.click('#timeline-place');
    await page.waitForSelector('#timeline-items li:has-text("0:05Chat messageHost: Welcome, everyone!")');
    await page.click('#timeline-items li:has-text("Team size?") .tl-delete');
    await page.waitForSelector('#timeline-items li:has-text("Team size?")', { state: 'detached' });
    await save(page);
    saved = await interactionsOf(event.id);
    expect(saved.polls).toEqual([]);
    expect(saved.chat).toEqual([{ id: chatId, at: 5, author: 'Host', text: 'Welcome, everyone!' }]);
    expect(saved.ctas.map((c) => [c.id, c.start, c.end])).toEqual([[ctaId, 8, 14]]);

    // What only the server knows to refuse: its 400 is shown, on the item and the field it names.
    await place(page, 'cta', '0:17', {
      '#timeline-seconds': '3',
      '#timeline-headline': 'Sign in',
      '#timeline-button-label': 'Go',
      '#timeline-url': 'https://user:secret@example.com/',
    });
    await page.click('#timeline-save');
    await page.waitForSelector('#timeline-alert:has-text("must not contain a user name or password")');
    await page.waitForSelector('#timeline-url-error:has-text("must not contain a user name or password")');
    expect(await page.getAttribute('#timeline-url', 'aria-invalid')).toBe('true');
    expect(await page.inputValue('#timeline-url')).toBe('https://user:secret@example.com/');
    expect(await page.textContent('#timeline-state')).toBe('Unsaved changes.');
    expect((await interactionsOf(event.id)).ctas).toHaveLength(1);
    await page.click('#timeline-items li:has-text("Sign in") .tl-delete');
    expect(await page.textContent('#timeline-state')).toBe('Everything is saved.');

    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-timeline');
    expect(pageErrors).toEqual([]);

    // A session of the webinar, on air since a second ago: the CTA shows when the picture is at 0:08.
    const startMs = Math.floor((Date.now() - 1000) / 1000) * 1000;
    const moved = await apiCall(server, 'PATCH', `/api/events/${event.id}`, {
      schedule: { kind: 'once', timezone: 'Europe/Rome', startsAt: new Date(startMs).toISOString() },
    });
    expect(moved.status).toBe(200);
    const viewer = await (await chromium.browser.newContext()).newPage();
    await viewer.goto(`${server.url}/w/${event.webinarId.replace(/-/g, '')}`);
    await viewer.click('#session-list button:has-text("Join now")');
    // Read the playhead in the page the moment the CTA is attached (see automated-session.test.ts).
    const shownAt = await viewer.evaluate(
      ({ start, timeoutMs }) =>
        new Promise<number>((resolve, reject) => {
          const at = () => {
            const p = (window as unknown as { onairPlayer?: { hls?: { playingDate: Date | null } } })
              .onairPlayer;
            return ((p?.hls?.playingDate?.getTime() ?? NaN) - start) / 1000;
          };
          if (document.querySelector('.onair-cta')) return resolve(at());
          const observer = new MutationObserver(() => {
            if (!document.querySelector('.onair-cta')) return;
            observer.disconnect();
            resolve(at());
          });
          observer.observe(document.body, { childList: true, subtree: true });
          setTimeout(() => reject(new Error('no CTA within the timeout')), timeoutMs);
        }),
      { start: startMs, timeoutMs: 30_000 },
    );
    console.info(`CTA placed at 0:08 in the app, shown at ${shownAt.toFixed(2)} s`);
    expect(Math.abs(shownAt - 8)).toBeLessThan(1.5);
    expect(await viewer.textContent('.onair-cta')).toContain('Book a demo');
    expect(await viewer.textContent('.onair-chat')).toContain('Welcome, everyone!');
  });
});
