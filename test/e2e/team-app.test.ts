import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { apiCall, until } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { claimAsOwner, screenshot, seriousViolations } from '../helpers/pages.ts';
import { addApiKey, createAccount, generateApiKey } from '../../src/db/accounts.ts';
import { serverDatabase, startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpServer, type ReceivedMail } from '../helpers/smtp.ts';

let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  smtp = await startSmtpServer();
  server = await startTestServer({ SMTP_URL: smtp.url });
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  await smtp?.close();
});

const PASSWORD = 'a long enough password';

function mailLink(to: string, subject: RegExp): Promise<string> {
  return until(`a mail to ${to}`, () => {
    const mail = smtp.mails.find((m: ReceivedMail) => m.to === to && subject.test(m.parsed.subject ?? ''));
    return mail ? /(http:\/\/\S+#token=\S+)/.exec(mail.parsed.text ?? '')?.[1] : undefined;
  });
}

/** A fresh browser profile: its own cookies. */
async function newPage(): Promise<Page> {
  const context = await chromium.browser.newContext();
  return context.newPage();
}

async function accessible(page: Page): Promise<void> {
  expect(await seriousViolations(page)).toEqual([]);
}

describe('the app: sign-in, team and roles in the browser', () => {
  it('the owner claims the account, invites a manager and a presenter, and the presenter sees only their event', async () => {
    const owner = await newPage();
    await owner.goto(`${server.url}/admin`);
    await owner.waitForSelector('#signin-form:visible');
    await accessible(owner);
    await screenshot(owner, 'admin-signed-out');

    await claimAsOwner(owner, {
      name: 'Olga Owner',
      email: 'owner@example.com',
      password: PASSWORD,
      apiKey: server.apiKey,
    });
    await owner.waitForSelector('#whoami:has-text("owner of")');
    // Sign-up is by invitation here: a stranger learns nothing about which addresses have a sign-in.
    for (const email of ['owner@example.com', 'nobody@example.com']) {
      const r = await fetch(`${server.url}/api/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, name: 'Mallory', password: PASSWORD, accountName: 'Mine' }),
      });
      expect(r.status).toBe(403);
    }
    // Nothing of the session is readable by scripts.
    expect(await owner.evaluate(() => document.cookie)).toBe('');
    expect(await owner.evaluate(() => JSON.stringify(localStorage))).toBe('{}');

    const ours = await apiCall<{ id: string; title: string }>(server, 'POST', '/api/events', {
      type: 'live',
      title: 'Pia presents this',
    });
    await apiCall(server, 'POST', '/api/events', { type: 'live', title: 'Somebody else presents this' });
    await owner.waitForSelector('#events tr:has-text("Somebody else presents this")');
    await owner.waitForSelector(`#invite-events input[value="${ours.json.id}"]`, { state: 'attached' });

    await owner.fill('#invite-email', 'manager@example.com');
    await owner.selectOption('#invite-role', 'manager');
    await owner.click('#invite-form button');
    await owner.waitForSelector('#team-message:has-text("Invitation sent to manager@example.com")');
    await owner.fill('#invite-email', 'presenter@example.com');
    await owner.selectOption('#invite-role', 'presenter');
    await owner.check(`#invite-events input[value="${ours.json.id}"]`);
    await owner.click('#invite-form button');
    await owner.waitForSelector('#invitations tr:has-text("presenter@example.com")');
    await owner.fill('#key-label', 'zapier');
    await owner.click('#key-form button');
    await owner.waitForSelector('#keys tr:has-text("zapier")');
    expect(await owner.inputValue('#new-key')).toMatch(/^onair_/);
    await accessible(owner);
    await screenshot(owner, 'admin-owner-team');

    // The presenter follows the mailed link: name, password, and in.
    const presenter = await newPage();
    await presenter.goto(await mailLink('presenter@example.com', /Join/));
    await presenter.waitForSelector('#invitation-about:has-text("presenter")');
    await accessible(presenter);
    await screenshot(presenter, 'admin-invitation');
    await presenter.fill('#invitation-name', 'Pia Presenter');
    await presenter.fill('#invitation-password', PASSWORD);
    await presenter.click('#invitation-form button');
    await presenter.waitForSelector('#whoami:has-text("presenter of")');
    expect(new URL(presenter.url()).hash).toBe('');
    await presenter.waitForSelector('#events tr:has-text("Pia presents this")');
    expect(await presenter.locator('#events tr').count()).toBe(1);
    expect(await presenter.isVisible('#library')).toBe(false);
    expect(await presenter.isVisible('#event-form')).toBe(false);
    expect(await presenter.isVisible('#team')).toBe(false);
    await accessible(presenter);
    await screenshot(presenter, 'admin-presenter');

    // Another account's owner (claimed with that account's key) reaches none of it, by id or page.
    const db = serverDatabase(server);
    const otherKey = generateApiKey();
    await addApiKey(db, (await createAccount(db, 'Other Co')).id, otherKey, 'first start');
    await db.destroy();
    const stranger = await newPage();
    await stranger.goto(`${server.url}/admin`);
    await claimAsOwner(stranger, {
      name: 'Stan Stranger',
      email: 'stranger@example.com',
      password: PASSWORD,
      apiKey: otherKey,
    });
    await stranger.waitForSelector('#whoami:has-text("owner of Other Co")');
    await stranger.goto(`${server.url}/admin/events/${ours.json.id}`);
    await stranger.waitForSelector('#message:has-text("No such webinar in this account")');
    expect(await stranger.locator('#events tr, #registrants-panel:visible').count()).toBe(0);

    // The manager: everything but the team.
    const manager = await newPage();
    await manager.goto(await mailLink('manager@example.com', /Join/));
    await manager.fill('#invitation-name', 'Mia Manager');
    await manager.fill('#invitation-password', PASSWORD);
    await manager.click('#invitation-form button');
    await manager.waitForSelector('#whoami:has-text("manager of")');
    await manager.waitForSelector('#events tr:has-text("Somebody else presents this")');
    expect(await manager.isVisible('#library')).toBe(true);
    expect(await manager.isVisible('#team')).toBe(false);
    await screenshot(manager, 'admin-manager');

    // Sign out, forget the password, reset it by mail, sign in with the new one.
    await manager.click('#signout');
    await manager.waitForSelector('#forgot-form:visible');
    await manager.fill('#forgot-email', 'manager@example.com');
    await manager.click('#forgot-form button');
    await manager.waitForSelector('#message:has-text("reset link is on its way")');
    await manager.goto(await mailLink('manager@example.com', /Reset/));
    await manager.waitForSelector('#reset-form:visible');
    await accessible(manager);
    await screenshot(manager, 'admin-reset');
    await manager.fill('#reset-password', 'an even longer new password');
    await manager.click('#reset-form button');
    await manager.waitForSelector('#message:has-text("password is changed")');
    await manager.fill('#signin-email', 'manager@example.com');
    await manager.fill('#signin-password', 'an even longer new password');
    await manager.click('#signin-form button');
    await manager.waitForSelector('#whoami:has-text("manager of")');
  });
});
