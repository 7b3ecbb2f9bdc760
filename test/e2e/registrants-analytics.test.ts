import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { insertAsset, updateAsset } from '../../src/db/assets.ts';
import type { Db } from '../../src/db/database.ts';
import { signValue, unsignValue } from '../../src/origin/tokens.ts';
import { apiCall } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * A webinar's Registrants and Analytics panels in Chromium: the owner searches the registrants,
 * erases one (accepting the confirmation), and reads the charts, each with its text alternative.
 * Viewers register, watch, click and vote through the viewer routes; the recording is a row marked
 * ready (nothing here plays media).
 */
let server: TestServer;
let db: Db;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let event: { id: string; webinarId: string };

const PEOPLE = [
  { email: 'ada@example.com', name: 'Ada Lovelace', company: 'Analytical Engines' },
  { email: 'bob@example.com', name: 'Bob Builder', company: 'ACME Corp' },
  { email: 'carol@example.com', name: 'Carol Singer', company: 'Choir Ltd' },
  { email: 'dan@example.com', name: 'Dan Brown', company: 'Acme Books' },
];

const webinar = () => event.webinarId.replace(/-/g, '');

async function viewer(person: (typeof PEOPLE)[number]) {
  const response = await fetch(`${server.url}/w/${webinar()}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...person, marketingConsent: person.name.startsWith('A'), noticeVersion: 'v1' }),
  });
  expect(response.status).toBe(201);
  const { playback } = (await response.json()) as { playback: { view: string } };
  const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}/w/${webinar()}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify(body),
    });
  return {
    /** One heartbeat at `position`; the grant back-dated a minute (a viewing earns wall-clock time). */
    async watch(position: number) {
      const fields = unsignValue(playback.view, server.secret)!.split('|');
      fields[7] = String(Number(fields[7]) - 60);
      const view = signValue(fields.join('|'), server.secret);
      expect((await post('heartbeat', { view, position, played: 10 })).status).toBe(204);
    },
    async click(cta: string) {
      expect((await post(`cta/${cta}/click`, {})).status).toBe(204);
    },
    async vote(poll: string, option: number) {
      expect((await post(`polls/${poll}/vote`, { option })).status).toBe(201);
    },
  };
}

beforeAll(async () => {
  server = await startTestServer({ REGISTER_RATE_PER_MINUTE: '100' });
  chromium = await launchChromium();
  db = serverDatabase(server);
  const account = await db.selectFrom('accounts').select('id').executeTakeFirstOrThrow();
  await insertAsset(db, {
    id: 'as_panels00000000001',
    accountId: account.id,
    title: 'talk',
    sourceKey: 'sources/as_panels00000000001/source',
    sourceBytes: 1,
    sourceName: undefined,
  });
  await updateAsset(db, 'as_panels00000000001', {
    status: 'ready',
    revision: 'rev_1',
    duration_seconds: 600,
  });
  const created = await apiCall<{ id: string; webinarId: string }>(server, 'POST', '/api/events', {
    title: 'Pricing deep-dive',
    type: 'on_demand',
    assetId: 'as_panels00000000001',
    gate: {
      emailRequired: true,
      fields: { name: 'optional', company: 'optional' },
      privacyNoticeUrl: 'https://example.com/privacy',
      privacyNoticeVersion: 'v1',
    },
    interactions: {
      ctas: [
        {
          id: 'trial',
          headline: 'Start a free trial',
          buttonLabel: 'Try it',
          url: 'https://example.com/trial',
          start: 10,
          end: 300,
        },
        {
          id: 'demo',
          headline: 'Book a demo',
          buttonLabel: 'Book',
          url: 'https://example.com/demo',
          start: 60,
          end: 400,
        },
      ],
      polls: [
        {
          id: 'role',
          question: 'What is your role?',
          options: ['Marketing', 'Sales', 'Engineering'],
          start: 30,
          end: 500,
        },
      ],
    },
  });
  expect(created.status).toBe(201);
  event = created.json;
  // One after the other: the table lists them in order of registration.
  const viewers = [];
  for (const person of PEOPLE) viewers.push(await viewer(person));
  const [ada, bob, carol, dan] = viewers;
  // How far each got into the 10-minute recording: the end (within 2 s), 4:10, 1:10, 6:40.
  await ada!.watch(599);
  await bob!.watch(250);
  await carol!.watch(70);
  await dan!.watch(400);
  await ada!.click('trial');
  await bob!.click('trial');
  await carol!.click('demo');
  await ada!.vote('role', 0);
  await bob!.vote('role', 1);
  await dan!.vote('role', 1);
});

afterAll(async () => {
  await chromium?.close();
  await db?.destroy();
  await server?.close();
});

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

describe("a webinar's registrants and analytics in the app", () => {
  it('searches and erases registrants, and draws the charts with their text alternatives', async () => {
    const context = await chromium.browser.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text());
    });
    // Whatever the CSP refuses (an inline style uPlot might set, say) is recorded by the page.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (e) =>
        seen.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    await signInAsOwner(page);
    await page.goto(`${server.url}/admin/events/${event.id}`);

    // Registrants: all four, then a search on the server (case-insensitive, substring).
    const rows = page.locator('#registrants-table tbody tr');
    await page.waitForSelector('#registrants-table tbody tr:has-text("dan@example.com")');
    expect(await rows.count()).toBe(4);
    const searchBox = page.getByRole('searchbox', { name: 'Search by email, name or company' });
    await searchBox.fill('acme');
    await searchBox.press('Enter');
    await page.waitForSelector('#registrants-table caption:has-text("matching “acme”")');
    expect(await rows.allInnerTexts()).toEqual([
      expect.stringContaining('bob@example.com'),
      expect.stringContaining('dan@example.com'),
    ]);
    await searchBox.fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForSelector('#registrants-table caption:has-text("in order of registration")');
    expect(await rows.count()).toBe(4);

    // Erase Carol: the confirmation is accepted, the row shows her erased, the API agrees.
    const carolId = await page
      .locator('#registrants-table tr:has-text("carol@example.com")')
      .getAttribute('data-registrant-id');
    let asked = '';
    page.once('dialog', (dialog) => {
      asked = dialog.message();
      void dialog.accept();
    });
    await page.getByRole('button', { name: 'Erase carol@example.com' }).click();
    await page.waitForSelector('#registrants-status:has-text("carol@example.com was erased.")');
    expect(asked).toContain('Erase carol@example.com?');
    const erasedRow = page.locator(`#registrants-table tr[data-registrant-id="${carolId}"]`);
    expect(await erasedRow.getAttribute('class')).toContain('erased');
    expect(await erasedRow.innerText()).toContain('Yes, ');
    expect(await erasedRow.innerText()).not.toContain('carol@');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('registrants-status');
    const listed = await apiCall<{
      registrants: { id: string; email: string | null; anonymisedAt: string | null }[];
    }>(server, 'GET', `/api/events/${event.id}/registrants`);
    const carol = listed.json.registrants.find((r) => r.id === carolId)!;
    expect(carol.email).toBeNull();
    expect(carol.anonymisedAt).not.toBeNull();
    // A declined confirmation erases nobody.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Erase dan@example.com' }).click();
    expect(await page.locator('#registrants-table tr:has-text("dan@example.com")').count()).toBe(1);
    // The export is the existing CSV.
    const exported = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export all as CSV' }).click();
    const csv = fs.readFileSync(await (await exported).path(), 'utf8');
    expect(csv).toContain('ada@example.com');
    expect(csv).not.toContain('carol@example.com');
    await screenshot(page, 'admin-registrants');

    // Analytics: a canvas per chart, each with its summary as accessible name and its data table.
    for (const id of ['registrations', 'attendance', 'drop-off', 'cta-clicks', 'poll-role']) {
      await page.waitForSelector(`#chart-${id} canvas`);
      const plot = page.locator(`#chart-${id} [role="img"]`);
      const labelledBy = (await plot.getAttribute('aria-labelledby'))!.split(' ');
      expect(labelledBy).toHaveLength(2);
      expect(await page.locator(`#${labelledBy[1]}`).innerText()).not.toBe('');
      expect(await page.locator(`#chart-${id} table tbody tr`).count()).toBeGreaterThan(0);
    }
    await page.waitForSelector('#chart-drop-off p:has-text("Of 4 viewers")');
    expect(await page.locator('#chart-drop-off').innerText()).toContain('25% reached the end (10:00)');
    expect(await page.locator('#chart-cta-clicks').innerText()).toContain(
      '3 clicks on 2 calls-to-action; the most on “Start a free trial” (2).',
    );
    expect(await page.locator('#chart-poll-role').innerText()).toContain(
      '3 votes; “Sales” leads with 2 (67%).',
    );
    // The table behind a chart opens from the keyboard.
    await page.locator('#chart-poll-role summary').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#chart-poll-role table').isVisible()).toBe(true);
    // A chart's data downloads as CSV.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download the data of “Call-to-action clicks” as CSV' }).click();
    const chartCsv = fs.readFileSync(await (await download).path(), 'utf8');
    expect(chartCsv).toBe('call_to_action,clicks\r\nStart a free trial,2\r\nBook a demo,1\r\n');

    // uPlot's stylesheet is a served file, and it applies.
    const css = await fetch(`${server.url}/player/uplot.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('.uplot');
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('.u-wrap')!).position)).toBe(
      'relative',
    );
    expect(blocked).toEqual([]);
    expect(
      await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations),
    ).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'admin-analytics');
    await context.close();
  });
});
