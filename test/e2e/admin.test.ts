import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-admin-'));
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the marketer admin page', () => {
  it('uploads a recording, shows its processing progress, and creates a gated webinar from it', async () => {
    const file = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 4 });
    const { browser, close } = await launchChromium();
    try {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${server.url}/admin`);
      // First start: the owner makes their sign-in with the API key onair printed.
      await claimAsOwner(page, {
        name: 'Olga',
        email: 'owner@example.com',
        password: 'a long enough password',
        apiKey: server.apiKey,
      });
      await page.waitForSelector('#whoami:has-text("owner")');
      await page.fill('#title', 'Quarterly <b>update</b>');
      await page.setInputFiles('#file', file);
      await page.click('#upload-form button');
      await page.waitForSelector('#message:has-text("Processing has started")');
      await page.waitForSelector('#assets progress', { state: 'attached' });
      await page.waitForSelector('#assets tr:has-text("ready")', { timeout: 60_000 });
      // Titles are shown as text.
      expect(await page.textContent('#assets tr td')).toBe('Quarterly <b>update</b>');

      await page.fill('#event-title', 'Pricing deep-dive');
      await page.waitForSelector('#event-asset option', { state: 'attached' });
      await page.click('#event-form button');
      await page.waitForSelector('#message:has-text("Webinar created")');
      await page.waitForSelector('#events tr:has-text("Pricing deep-dive")');
      expect(await page.textContent('#events tr td:nth-child(2)')).toMatch(/^\d{3}-\d{3}-\d{3}$/);

      // Drag and drop: the file dropped on the library uploads at once, titled after its name.
      await page.fill('#title', '');
      const data = fs.readFileSync(file).toString('base64');
      await page.evaluate((base64) => {
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'board_meeting-2026.mp4', { type: 'video/mp4' }));
        const zone = document.querySelector('#library')!;
        zone.dispatchEvent(
          new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
        zone.dispatchEvent(
          new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }),
        );
      }, data);
      await page.waitForSelector('#message:has-text("board meeting 2026")');
      await page.waitForSelector('#assets tr:has-text("board meeting 2026")');

      // The recording's page: what it was, the ladder it became, its poster and storyboard.
      await page.click('#assets a:text-is("Quarterly <b>update</b>")');
      await page.waitForSelector('#renditions tr:has-text("360p")');
      expect(await page.textContent('#asset-title')).toBe('Quarterly <b>update</b>');
      expect(await page.textContent('#asset-facts')).toContain('640×360');
      await page.waitForSelector('#storyboard .still');
      await page.waitForFunction(
        () => document.querySelector<HTMLImageElement>('#asset-poster')!.naturalWidth > 0,
      );
      // It plays in the page (hls.js, the recording's own signed playlist).
      await page.click('#asset-play-here');
      await page.waitForFunction(
        () => document.querySelector<HTMLVideoElement>('#asset-video')!.currentTime > 0.5,
        null,
        {
          timeout: 30_000,
        },
      );
      expect(await page.isHidden('#asset-poster')).toBe(true);
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'admin-asset');
    } finally {
      await close();
    }
  });
});
