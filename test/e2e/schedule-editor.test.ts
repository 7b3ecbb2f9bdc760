import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-schedule-'));
  server = await startTestServer();
  chromium = await launchChromium();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 4 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status).toBe('ready');
  assetId = asset.id;
}, 180_000);

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const ROME = 'Europe/Rome';
const DAY = 86_400_000;

/** Today's date in Rome, `YYYY-MM-DD` (en-CA formats dates that way). */
const romeToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: ROME }).format(new Date());

/**
 * The next `count` Tuesdays at 16:00 Rome from `first` (a Rome date) that are still ahead, as UTC
 * instants, worked out here with Intl's offset names rather than onair's schedule code.
 */
function nextTuesdaysAt16(first: string, count: number, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (let day = Date.parse(`${first}T00:00:00Z`); out.length < count; day += DAY) {
    const date = new Date(day);
    if (date.getUTCDay() !== 2 || skip.includes(date.toISOString().slice(0, 10))) continue;
    const offset = new Intl.DateTimeFormat('en-US', { timeZone: ROME, timeZoneName: 'shortOffset' })
      .formatToParts(new Date(day + 12 * 3_600_000))
      .find((p) => p.type === 'timeZoneName')!.value;
    const hours = Number(/^GMT([+-]\d+)$/.exec(offset)![1]);
    const at = day + (16 - hours) * 3_600_000;
    if (at > Date.now()) out.push(new Date(at).toISOString());
  }
  return out;
}

/** The preview's sessions (their UTC instants) once they are `expected`. */
async function previewShows(page: Page, expected: readonly string[]): Promise<void> {
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify(
          [...document.querySelectorAll('#schedule-preview time')].map((t) => t.getAttribute('datetime')),
        ) === want,
      JSON.stringify(expected),
      { timeout: 15_000 },
    )
    .catch(async (err: unknown) => {
      const shown = await page.$$eval('#schedule-preview time', (ts) =>
        ts.map((t) => t.getAttribute('datetime')),
      );
      const status = await page.textContent('#schedule-preview-status');
      throw new Error(
        `preview shows ${JSON.stringify(shown)} (${status}), expected ${JSON.stringify(expected)}: ${String(err)}`,
      );
    });
}

describe('the Schedule panel of a webinar page', () => {
  it('edits a weekly rule, previews the next sessions in its zone, saves it and keeps it', async () => {
    const startsAt = new Date(Math.ceil((Date.now() + 3 * DAY) / 60_000) * 60_000).toISOString();
    const made = await apiCall<{ id: string }>(server, 'POST', '/api/events', {
      title: 'Growth playbook',
      type: 'automated',
      assetId,
      schedule: { kind: 'once', timezone: 'America/New_York', startsAt },
    });
    expect(made.status).toBe(201);
    const eventId = made.json.id;

    // A British browser in Tokyo: the times shown are Rome's, whatever the browser's own zone.
    const context = await chromium.browser.newContext({ locale: 'en-GB', timezoneId: 'Asia/Tokyo' });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin/events/${eventId}`);
    // Not signed in: the app asks for the owner's sign-in first, then comes back here.
    await claimAsOwner(page, {
      name: 'Olga Owner',
      email: 'owner@example.com',
      password: 'a long enough password',
      apiKey: server.apiKey,
    });
    await page.waitForURL(`${server.url}/admin/events/${eventId}`);
    await page.waitForSelector('#schedule-form');

    // The saved one-off session, in its zone.
    expect(await page.inputValue('#schedule-repeat')).toBe('once');
    expect(await page.inputValue('#schedule-timezone')).toBe('America/New_York');
    await previewShows(page, [startsAt]);

    // Weekly on Tuesday at 16:00 in Rome, from today.
    await page.selectOption('#schedule-repeat', 'weekly');
    await page.selectOption('#schedule-timezone', ROME);
    const today = romeToday();
    await page.fill('#schedule-date', today);
    await page.fill('#schedule-time', '16:00');
    for (const day of ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'])
      await page.setChecked(`#schedule-weekday-${day}`, false);
    // With the keyboard: Tab to Tuesday's box and tick it with Space.
    await page.focus('#schedule-weekday-MO');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    expect(await page.isChecked('#schedule-weekday-TU')).toBe(true);

    const expected = nextTuesdaysAt16(today, 9);
    await previewShows(page, expected.slice(0, 8));
    expect(await page.textContent('#schedule-preview-status')).toBe(`The next 8 sessions, in ${ROME} time:`);
    const labels = await page.$$eval('#schedule-preview li', (items) =>
      items.map((li) => li.textContent ?? ''),
    );
    labels.forEach((label, i) => {
      const at = new Date(expected[i]!);
      const date = new Intl.DateTimeFormat('en-GB', {
        timeZone: ROME,
        day: 'numeric',
        month: 'long',
        year: 'numeric',
      }).format(at);
      expect(label).toContain('Tuesday');
      expect(label).toContain(date);
      expect(label).toContain('16:00');
    });

    // A blackout date (added from the keyboard) takes its Tuesday out.
    const skipped = new Intl.DateTimeFormat('en-CA', { timeZone: ROME }).format(new Date(expected[0]!));
    await page.fill('#schedule-blackout-date', skipped);
    await page.press('#schedule-blackout-date', 'Enter');
    await page.waitForSelector(`#schedule-blackout-list time[datetime="${skipped}"]`);
    await previewShows(page, expected.slice(1, 9));

    // An invalid rule: the server's message in the preview and on Save, nothing saved.
    await page.selectOption('#schedule-repeat', 'rrule');
    await page.fill('#schedule-rrule', 'FREQ=YEARLY');
    await page.waitForSelector('#schedule-preview-status:has-text("FREQ=YEARLY is not supported")');
    expect(await page.locator('#schedule-preview li').count()).toBe(0);
    await page.click('#schedule-save');
    await page.waitForSelector(
      '#schedule-save-status:has-text("FREQ=YEARLY is not supported (DAILY, WEEKLY or MONTHLY)")',
    );
    expect(
      (await apiCall<{ schedule: { kind: string } }>(server, 'GET', `/api/events/${eventId}`)).json.schedule
        .kind,
    ).toBe('once');

    // Back to the weekly rule (the form kept it), and Save.
    await page.selectOption('#schedule-repeat', 'weekly');
    await previewShows(page, expected.slice(1, 9));
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-schedule');
    await page.click('#schedule-save');
    await page.waitForSelector('#schedule-save-status:text-is("Saved")');
    const saved = await apiCall<{ schedule: unknown }>(server, 'GET', `/api/events/${eventId}`);
    expect(saved.json.schedule).toEqual({
      kind: 'recurring',
      start: `${today}T16:00`,
      rrule: 'FREQ=WEEKLY;BYDAY=TU',
      timezone: ROME,
      blackoutDates: [skipped],
      replayDays: 7,
    });

    // Reload: the rule is kept, and so are its next sessions.
    await page.reload();
    await page.waitForSelector('#schedule-form');
    expect(await page.inputValue('#schedule-repeat')).toBe('weekly');
    expect(await page.inputValue('#schedule-timezone')).toBe(ROME);
    expect(await page.inputValue('#schedule-date')).toBe(today);
    expect(await page.inputValue('#schedule-time')).toBe('16:00');
    const ticked = await page.$$eval('input[name="schedule-weekday"]:checked', (boxes) =>
      boxes.map((b) => (b as HTMLInputElement).value),
    );
    expect(ticked).toEqual(['TU']);
    await page.waitForSelector(`#schedule-blackout-list time[datetime="${skipped}"]`);
    await previewShows(page, expected.slice(1, 9));
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });
});
