import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
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
      const page = await browser.newPage();
      await page.goto(`${server.url}/admin`);
      await page.waitForSelector('#message:has-text("API key")');
      await page.fill('#key', server.apiKey);
      await page.click('#key-form button');
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
    } finally {
      await close();
    }
  });
});
