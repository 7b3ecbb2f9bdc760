import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  server = await startTestServer();
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

interface EventView {
  title: string;
  description: string;
  language: string;
  gate: { emailRequired: boolean; fields: { name: string }; privacyNoticeUrl: string | null };
}

describe("a webinar's settings in the app", () => {
  it('edits title, description, language and the gate; a refused save changes nothing', async () => {
    const made = await apiCall<{ id: string }>(server, 'POST', '/api/events', {
      type: 'live',
      title: 'Launch',
    });
    const id = made.json.id;
    const page = await (await chromium.browser.newContext()).newPage();
    await page.goto(`${server.url}/admin`);
    await claimAsOwner(page, {
      name: 'Olga Owner',
      email: 'owner@example.com',
      password: 'a long enough password',
      apiKey: server.apiKey,
    });
    await page.waitForSelector('#whoami:has-text("owner of")');
    await page.goto(`${server.url}/admin/events/${id}`);
    await page.waitForSelector('#settings-form');

    await page.fill('#settings-title', 'Launch day');
    await page.fill('#settings-description', 'What is new this spring.');
    await page.selectOption('#settings-language', 'it');
    await page.check('#settings-gated');
    await page.selectOption('#settings-name', 'required');
    await page.fill('#settings-notice', 'https://example.com/privacy');
    await page.fill('#settings-notice-version', '2026-12');
    await page.click('#settings-form button');
    await page.waitForSelector('#settings-message:has-text("Saved")');
    expect(await page.textContent('#event-title')).toBe('Launch day');
    const saved = (await apiCall<EventView>(server, 'GET', `/api/events/${id}`)).json;
    expect(saved).toMatchObject({
      title: 'Launch day',
      description: 'What is new this spring.',
      language: 'it',
      gate: {
        emailRequired: true,
        fields: { name: 'required' },
        privacyNoticeUrl: 'https://example.com/privacy',
      },
    });

    // An email gate without its notice is refused with the server's words, and nothing changes.
    await page.fill('#settings-title', 'Should not stick');
    await page.fill('#settings-notice', '');
    await page.click('#settings-form button');
    await page.waitForSelector('#settings-message:has-text("privacyNoticeUrl")');
    expect((await apiCall<EventView>(server, 'GET', `/api/events/${id}`)).json.title).toBe('Launch day');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-event-settings');
  });
});
