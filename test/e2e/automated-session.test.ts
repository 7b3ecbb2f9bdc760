import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
let assetId: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-e2e-auto-'));
  server = await startTestServer();
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 80 });
  const asset = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(asset.status).toBe('ready');
  assetId = asset.id;
}, 180_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a viewer joins an automated session late', () => {
  it('lands at the live point of the session, and the CTA shows at its time', async () => {
    // A session that started 30 s ago; the call-to-action is due at 40 s into the recording.
    const startMs = Math.floor((Date.now() - 30_000) / 1000) * 1000;
    const response = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'Evergreen demo',
        type: 'automated',
        assetId,
        schedule: { kind: 'once', timezone: 'Europe/Rome', startsAt: new Date(startMs).toISOString() },
        interactions: {
          ctas: [
            {
              id: 'trial',
              headline: 'Start your trial',
              buttonLabel: 'Try it',
              url: 'https://example.com/t',
              start: 40,
              end: 60,
            },
          ],
          chat: [{ id: 'hi', at: 1, author: 'Host', text: 'Welcome!' }],
        },
      }),
    });
    expect(response.status).toBe(201);
    const event = (await response.json()) as { webinarId: string };

    const { browser, close } = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${server.url}/w/${event.webinarId.replace(/-/g, '')}`);
      await page.click('#session-list button:has-text("Join now")');
      // Session time at the playhead: program date-time of what is shown minus the session start.
      const position = () =>
        page.evaluate((start) => {
          const p = (window as unknown as { onairPlayer?: { hls?: { playingDate: Date | null } } })
            .onairPlayer;
          const at = p?.hls?.playingDate?.getTime();
          return at ? (at - start) / 1000 : null;
        }, startMs);
      const deadline = Date.now() + 30_000;
      let joinedAt: number | null = null;
      while (Date.now() < deadline) {
        joinedAt = await position();
        if (joinedAt !== null && joinedAt > 0) break;
        await page.waitForTimeout(200);
      }
      expect(joinedAt).not.toBeNull();
      // Everybody in the session sees the same moment: the clock's, within the player's hold-back.
      const expected = (Date.now() - startMs) / 1000;
      expect(Math.abs(joinedAt! - expected)).toBeLessThan(4);
      console.info(`joined at ${joinedAt!.toFixed(1)} s, session clock ${expected.toFixed(1)} s`);

      // The CTA appears when the picture reaches 40 s (checked every 100 ms).
      // Read the playhead in the page the moment the CTA is attached, not after a round trip
      // to the test process (which, on a loaded machine, can take most of a second).
      const shownAt = await page.evaluate(
        ({ start, timeoutMs }) =>
          new Promise<number>((resolve, reject) => {
            const at = () => {
              const p = (window as unknown as { onairPlayer?: { hls?: { playingDate: Date | null } } })
                .onairPlayer;
              return ((p?.hls?.playingDate?.getTime() ?? NaN) - start) / 1000;
            };
            if (document.querySelector('.onair-cta')) return resolve(at());
            const observer = new MutationObserver(() => {
              if (!document.querySelector('.onair-cta')) return;
              observer.disconnect();
              resolve(at());
            });
            observer.observe(document.body, { childList: true, subtree: true });
            setTimeout(() => reject(new Error('no CTA within the timeout')), timeoutMs);
          }),
        { start: startMs, timeoutMs: 30_000 },
      );
      expect(Math.abs(shownAt - 40)).toBeLessThan(1);
      console.info(`CTA shown at ${shownAt.toFixed(2)} s (due at 40 s)`);
      expect(await page.textContent('.onair-cta')).toContain('Start your trial');
      expect(await page.textContent('.onair-chat')).toContain('Welcome!');
    } finally {
      await close();
    }
  });
});
