import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core (never a downloaded browser). `launch` gives each
 * run a fresh temporary profile; the flags keep it off the network this machine does not have.
 */
export async function launchChromium(
  opts: { fakeMedia?: boolean } = {},
): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
      // A presenter: a fake camera and microphone granted without a prompt, WebRTC over loopback.
      ...(opts.fakeMedia
        ? [
            '--use-fake-device-for-media-stream',
            '--use-fake-ui-for-media-stream',
            '--allow-loopback-in-peer-connection',
          ]
        : []),
    ],
  });
  return { browser, close: () => browser.close() };
}
