import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let assetId: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-i18n-'));
  server = await startTestServer();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 6 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status, asset.error ?? '').toBe('ready');
  assetId = asset.id;
}, 120_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function createEvent(body: Record<string, unknown>): Promise<string> {
  const { status, json } = await apiCall<{ webinarId: string }>(server, 'POST', '/api/events', body);
  expect(status, JSON.stringify(json)).toBe(201);
  return json.webinarId.replace(/-/g, '');
}

describe('the pages speak the viewer language in the browser', () => {
  it('an Italian event: gate, notice sentence, errors, player labels; a German browser on an auto live event: the waiting room', async () => {
    const gated = await createEvent({
      title: 'Crescita',
      type: 'on_demand',
      assetId,
      language: 'it',
      gate: {
        emailRequired: true,
        fields: { name: 'optional', company: 'off' },
        privacyNoticeUrl: 'https://example.com/privacy',
        privacyNoticeVersion: 'v2',
      },
    });
    const waiting = await createEvent({
      title: 'Live',
      type: 'live',
      startsAt: '2030-12-03T09:00:00Z',
    });
    const { browser, close } = await launchChromium();
    try {
      const refused: string[] = [];
      const italian = await browser.newPage({ locale: 'en-US', timezoneId: 'Europe/Rome' });
      italian.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
      });
      await italian.goto(`${server.url}/w/${gated}`);
      await italian.waitForSelector('#gate:not([hidden])');
      expect(await italian.getAttribute('html', 'lang')).toBe('it');
      expect(await italian.textContent('#state')).toBe('Inserisci la tua email per guardare.');
      expect(await italian.textContent('#webinar-id')).toMatch(/^ID del webinar: \d{3}-\d{3}-\d{3}$/);
      expect(await italian.textContent('#notice')).toBe(
        'Usiamo la tua email per darti accesso. Leggi la nostra informativa sulla privacy (versione v2).',
      );
      expect(await italian.textContent('#notice a')).toBe('informativa sulla privacy');
      await italian.fill('#email', 'sbagliata');
      await italian.click('#gate button[type=submit]');
      await italian.waitForSelector('#email-error:has-text("indirizzo email valido")');
      await italian.fill('#email', 'viewer@example.com');
      await italian.click('#gate button[type=submit]');
      await italian.waitForFunction(() => 'onairPlayer' in window, undefined, { timeout: 15_000 });
      expect(await italian.getAttribute('.onair-player button.play', 'aria-label')).toBe('Riproduci');
      expect(await italian.getAttribute('.onair-player button.fullscreen', 'aria-label')).toBe(
        'Schermo intero',
      );
      expect(await italian.textContent('.onair-player select option')).toBe('Automatica');
      expect(await italian.textContent('#manage-link')).toBe(
        'I tuoi dati: scarica, revoca il consenso o elimina',
      );

      const german = await browser.newPage({ locale: 'de-DE', timezoneId: 'America/New_York' });
      await german.goto(`${server.url}/w/${waiting}`);
      await german.waitForSelector('#waiting:not([hidden])');
      expect(await german.getAttribute('html', 'lang')).toBe('de');
      expect(await german.textContent('#waiting-title')).toBe('Das Webinar beginnt in Kürze');
      // In the browser's own zone (New York: 04:00), in German.
      expect(await german.textContent('#starts-at')).toMatch(/^Beginn: Dienstag, 3\. Dezember 2030 um 04:00/);
      expect(await german.textContent('#countdown')).toMatch(/^\d+ Tg\. \d{2}:\d{2}:\d{2}$/);
      expect(refused).toEqual([]);
    } finally {
      await close();
    }
  });
});
