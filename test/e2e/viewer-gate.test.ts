import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let webinarId: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-gate-'));
  server = await startTestServer();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 1280, height: 720, seconds: 20 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status, asset.error ?? '').toBe('ready');
  const response = await fetch(`${server.url}/api/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      title: 'Pricing deep-dive',
      description: 'How we price.',
      type: 'on_demand',
      assetId: asset.id,
      gate: {
        emailRequired: true,
        fields: { name: 'optional', company: 'off' },
        privacyNoticeUrl: 'https://example.com/privacy',
        privacyNoticeVersion: 'v3',
      },
    }),
  });
  webinarId = ((await response.json()) as { webinarId: string }).webinarId;
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a viewer joins by webinar ID, passes the email gate and watches with hls.js', () => {
  it('join -> gate -> invalid email -> valid email -> plays, switches quality, keeps access on reload', async () => {
    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      // The pages run under a strict Content-Security-Policy: nothing they need may be refused.
      const refused: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
      });
      await page.goto(`${server.url}/join`);
      await page.fill('#webinar-id', '999-999-999');
      await page.click('button[type=submit]');
      await page.waitForSelector('#error:has-text("could not find")');
      await page.fill('#webinar-id', webinarId);
      await page.click('button[type=submit]');
      await page.waitForURL(`${server.url}/w/${webinarId.replace(/-/g, '')}`);

      await page.waitForSelector('#gate:not([hidden])');
      expect(await page.textContent('#state')).toBe('Enter your email to watch.');
      expect(await page.isChecked('#marketing')).toBe(false);
      expect(await page.getAttribute('#notice a', 'href')).toBe('https://example.com/privacy');

      await page.fill('#email', 'not-an-email');
      await page.click('#gate button[type=submit]');
      await page.waitForSelector('#email-error:has-text("valid email")');

      const xss = '<img src=x onerror="window.pwned=1">';
      await page.fill('#email', 'viewer@example.com');
      await page.fill('#name', xss);
      await page.click('#gate button[type=submit]');
      await page.waitForFunction(() => 'onairPlayer' in window, undefined, { timeout: 15_000 });
      expect(await page.isHidden('#gate')).toBe(true);
      const engine = await page.evaluate(
        () => (window as unknown as { onairPlayer: { engine: string } }).onairPlayer.engine,
      );
      expect(engine).toBe('hls.js');

      await page.click('.onair-player button.play');
      await page.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, {
        timeout: 20_000,
      });

      // Quality: the menu lists Auto and every rung; picking 360p makes hls.js play that level.
      const options = await page.$$eval('.onair-player select option', (o) => o.map((x) => x.textContent));
      expect(options).toEqual(['Auto', '720p', '480p', '360p']);
      await page.selectOption('.onair-player select', { label: '360p' });
      await page.waitForFunction(
        () => {
          const v = document.querySelector('video')!;
          return v.videoHeight === 360;
        },
        undefined,
        { timeout: 20_000 },
      );

      // Reload: the signed cookie keeps access, no gate.
      await page.reload();
      await page.waitForFunction(() => 'onairPlayer' in window, undefined, { timeout: 15_000 });
      expect(await page.isHidden('#gate')).toBe(true);

      // The viewer's data page shows the typed name as text, not markup.
      const manage = await page.getAttribute('#manage-link', 'href');
      await page.goto(manage!);
      await page.waitForSelector('#summary:has-text("viewer@example.com")');
      expect(await page.textContent('#summary')).toContain(xss);
      expect(await page.$('#summary img')).toBeNull();
      expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      // The data page offers correction and restriction, and they work from the page.
      await page.fill('#name', 'Viewer Corrected');
      await page.click('#rectify button[type=submit]');
      await page.waitForSelector('#summary:has-text("Viewer Corrected")');
      await page.click('#restrict');
      await page.waitForSelector('#summary:has-text("restricted")');
      expect(refused).toEqual([]);
    } finally {
      await close();
    }
  });
});
