import fs from 'node:fs';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/** Where e2e runs save a screenshot of every page they visit (git-ignored). */
export const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');

/** A full-page screenshot named `name`, for people to look at (not compared). */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** axe-core's serious and critical violations on the page as it is now, readably. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * Fills the app's first-owner form (the page must show it, e.g. `/admin` on a fresh server) and
 * submits it: the owner's sign-in, claimed with the account's API key.
 */
export async function claimAsOwner(
  page: Page,
  owner: { name: string; email: string; password: string; apiKey: string },
): Promise<void> {
  await page.waitForSelector('#claim-form:visible');
  await page.fill('#claim-name', owner.name);
  await page.fill('#claim-email', owner.email);
  await page.fill('#claim-password', owner.password);
  await page.fill('#claim-key', owner.apiKey);
  await page.click('#claim-form button');
}
