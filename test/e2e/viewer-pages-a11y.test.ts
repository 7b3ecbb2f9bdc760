import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { apiCall } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { screenshot, seriousViolations } from '../helpers/pages.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let assetId: string;
let player: string;

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'off' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: 'v1',
};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-a11y-'));
  server = await startTestServer();
  chromium = await launchChromium();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 6 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status, asset.error ?? '').toBe('ready');
  assetId = asset.id;
  player = asset.playback!.player;
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function event(body: Record<string, unknown>): Promise<string> {
  const made = await apiCall<{ webinarId: string }>(server, 'POST', '/api/events', body);
  expect(made.status).toBe(201);
  return made.json.webinarId.replace(/-/g, '');
}

/** axe's serious and critical findings on the page, and a screenshot of it. */
async function check(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  expect(await seriousViolations(page), name).toEqual([]);
}

describe("viewers' pages: no serious accessibility violations (axe-core), in English and Italian", () => {
  it('join, gate, player, data page, waiting room, asset preview and status', async () => {
    const onDemand = await event({ title: 'Pricing deep-dive', type: 'on_demand', assetId, gate: GATE });
    const rome = await event({
      title: 'Automated, in Italian',
      type: 'automated',
      assetId,
      language: 'it',
      schedule: {
        kind: 'once',
        timezone: 'Europe/Rome',
        startsAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      },
    });
    const context = await chromium.browser.newContext({ viewport: { width: 1024, height: 768 } });
    const page = await context.newPage();

    await page.goto(`${server.url}/join`);
    await page.waitForSelector('#webinar-id');
    await check(page, 'viewer-join');

    await page.goto(`${server.url}/w/${onDemand}`);
    await page.waitForSelector('#gate:not([hidden])');
    await check(page, 'viewer-gate');
    await page.fill('#email', 'viewer@example.com');
    await page.click('#gate button[type=submit]');
    await page.waitForFunction(() => 'onairPlayer' in window, undefined, { timeout: 15_000 });
    await page.waitForSelector('.onair-player');
    await check(page, 'viewer-player');

    const manage = await page.getAttribute('#manage-link', 'href');
    await page.goto(manage!);
    await page.waitForSelector('#summary:has-text("viewer@example.com")');
    await check(page, 'viewer-data-page');

    await page.goto(`${server.url}/w/${rome}`);
    await page.waitForSelector('html[lang="it"]');
    await page.waitForLoadState('networkidle');
    await check(page, 'viewer-waiting-room-it');

    await page.goto(player);
    await page.waitForSelector('.onair-player');
    await check(page, 'asset-preview');

    await page.goto(`${server.url}/status`);
    await check(page, 'status');
  });
});
