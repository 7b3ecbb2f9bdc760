import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admission, Admit, Refusal } from '../../src/live/admission.ts';
import { signedPullUrl, type IngestSession, type RunningIngest } from '../../src/live/rtmp-ingest.ts';
import { startWhipServer, type WhipServer } from '../../src/live/whip-ingest.ts';
import { createLogger } from '../../src/log.ts';
import { until } from '../helpers/api.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startLoopbackIngest } from '../helpers/live.ts';
import { childProcesses, isAlive } from '../helpers/onair-process.ts';

/**
 * WHIP ingest end to end on this machine: headless Chromium's fake camera and microphone publish
 * over WebRTC to the WHIP server, whose bridge ffmpeg republishes to a real in-process RTMP ingest.
 */

const run = promisify(execFile);
const playSecret = 'test-play-secret';
const GOOD_KEY = 'live_whip_test_key_0001';
const quiet = createLogger('error');

/** The publisher page: getUserMedia, sendonly transceivers, non-trickle offer, WHIP POST. */
const PAGE = `<!doctype html><html lang="en"><title>whip publisher</title><body><script>
let pc;
async function offerSdp(peer) {
  await peer.setLocalDescription(await peer.createOffer());
  await new Promise((resolve) => {
    if (peer.iceGatheringState === 'complete') return resolve();
    peer.addEventListener('icegatheringstatechange', () => peer.iceGatheringState === 'complete' && resolve());
  });
  return peer.localDescription.sdp;
}
async function newPeer() {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 320, height: 240, frameRate: 15 }, audio: true });
  const peer = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const t = peer.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video') {
      const params = t.sender.getParameters();
      params.degradationPreference = 'maintain-resolution';
      await t.sender.setParameters(params).catch(() => {});
    }
  }
  return peer;
}
window.publish = async (url, key) => {
  pc = await newPeer();
  const res = await fetch(url, { method: 'POST', body: await offerSdp(pc),
    headers: { 'content-type': 'application/sdp', authorization: 'Bearer ' + key } });
  const body = await res.text();
  if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: body });
  return { status: res.status, location: res.headers.get('location'), body };
};
window.offerOnly = async () => offerSdp(await newPeer());
window.connectionState = () => pc && pc.connectionState;
window.localSdp = () => pc.localDescription.sdp;
</script></body></html>`;

interface EndCall {
  key: string;
  stopped: boolean;
}

let ingest: RunningIngest;
let whip: WhipServer;
let pageServer: http.Server;
let pageUrl: string;
let browser: Browser;
let work: string;
const started: IngestSession[] = [];
const ends: EndCall[] = [];
const admitCalls: string[] = [];
/** The event's single publisher slot, as the real admission keeps it in Redis. */
let busy = false;
let nameCounter = 0;

const admit: Admit = (key, _ip, protocol) => {
  admitCalls.push(key);
  expect(protocol).toBe('whip');
  if (key !== GOOD_KEY) {
    const refusal: Refusal = { ok: false, code: 'unknown_key', reason: 'Unknown stream key.' };
    return Promise.resolve(refusal);
  }
  if (busy) return Promise.resolve<Refusal>({ ok: false, code: 'busy', reason: 'Someone is already live.' });
  busy = true;
  let ended = false;
  const admission: Admission = {
    ok: true,
    eventId: 'ev_whip',
    rtmpUrl: `rtmp://127.0.0.1:${ingest.port}/live/whip-${++nameCounter}`,
    end(how) {
      if (ended) return;
      ended = true;
      busy = false;
      ends.push({ key, stopped: how.stopped });
    },
  };
  return Promise.resolve(admission);
};

/** The bridge ffmpeg processes of this test process (their SDP file is in an `onair-whip-` folder). */
const bridges = () => childProcesses(process.pid).filter((c) => c.cmdline.includes('onair-whip-'));

async function publisherPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(pageUrl);
  return page;
}

function publish(page: Page, key: string) {
  return page.evaluate(([url, k]) => (window as unknown as WhipWindow).publish(url, k), [
    whip.url,
    key,
  ] as const);
}

interface WhipWindow {
  publish(url: string, key: string): Promise<{ status: number; location: string | null; body: string }>;
  offerOnly(): Promise<string>;
  connectionState(): string | undefined;
  localSdp(): string;
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-whip-test-'));
  ingest = await startLoopbackIngest({
    dataDir: work,
    log: quiet,
    playSecret,
    started: (s) => void started.push(s),
  });
  whip = await startWhipServer({
    port: 0,
    host: '127.0.0.1',
    admit,
    log: quiet,
    allowLoopback: true,
    fps: 15,
    width: 320,
    height: 240,
  });
  pageServer = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', () => resolve()));
  pageUrl = `http://127.0.0.1:${(pageServer.address() as { port: number }).port}/`;
  ({ browser } = await launchChromium({ fakeMedia: true }));
});

afterAll(async () => {
  await browser?.close();
  await whip?.stop();
  await ingest?.stop();
  pageServer?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('WHIP ingest from Chromium', () => {
  it('refuses a missing or unknown key with 401 and starts no bridge', async () => {
    const page = await publisherPage();
    const offer = await page.evaluate(() => (window as unknown as WhipWindow).offerOnly());
    const missing = await fetch(whip.url, {
      method: 'POST',
      body: offer,
      headers: { 'content-type': 'application/sdp' },
    });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrongType = await fetch(whip.url, {
      method: 'POST',
      body: offer,
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${GOOD_KEY}` },
    });
    expect(wrongType.status).toBe(415);
    const before = admitCalls.length;
    const result = await publish(page, 'live_not_a_real_key_1234');
    expect(result.status).toBe(401);
    expect(result.body).toBe('Unknown stream key.');
    expect(admitCalls.length).toBe(before + 1);
    expect(bridges()).toEqual([]);
    expect(whip.sessions()).toBe(0);
    expect(busy).toBe(false);

    // Beyond the session limit: 503 before the key is even checked.
    const full = await startWhipServer({ port: 0, host: '127.0.0.1', admit, log: quiet, maxSessions: 0 });
    const callsBefore = admitCalls.length;
    const tooMany = await fetch(full.url, {
      method: 'POST',
      body: offer,
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${GOOD_KEY}` },
    });
    expect(tooMany.status).toBe(503);
    expect(admitCalls.length).toBe(callsBefore);
    await full.stop();
    await page.close();
  });

  it('publishes H.264 + AAC to the RTMP ingest, refuses a second publisher, and stops on DELETE', async () => {
    const page = await publisherPage();
    const result = await publish(page, GOOD_KEY);
    expect(result.status, result.body).toBe(201);
    expect(result.location).toMatch(/^\/whip\/session\/[0-9a-f]{32}$/);
    expect(whip.sessions()).toBe(1);
    // Chromium offers VP8 first; the answer carries only its H.264 packetization-mode 1.
    expect(result.body).toMatch(/a=rtpmap:\d+ H264\/90000/);
    expect(result.body).not.toMatch(/VP8|rtx\//);
    const [bridge] = bridges();
    expect(bridge).toBeDefined();
    // The SDP the bridge reads is private to this user and removed with the session.
    const sdpPath = bridge?.cmdline.split(' ').find((a) => a.endsWith('.sdp')) ?? '';
    expect(fs.statSync(sdpPath).mode & 0o777).toBe(0o600);

    const session = await until('the bridge to publish to the RTMP ingest', () => started.at(-1), 30_000);
    expect(session.streamName).toBe(`whip-${nameCounter}`);
    const firstBytes = session.inBytes();
    await until('bytes to keep coming', () => session.inBytes() > firstBytes + 20_000, 15_000);

    const pull = signedPullUrl('127.0.0.1', ingest.port, session.streamName, playSecret);
    const { stdout } = await run(
      'ffprobe',
      [
        '-v',
        'error',
        '-rw_timeout',
        '10000000',
        '-show_entries',
        'stream=codec_type,codec_name,width,height',
        '-of',
        'json',
        pull,
      ],
      { timeout: 20_000 },
    );
    const streams = (
      JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string; width?: number }[] }
    ).streams;
    expect(streams).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ codec_type: 'video', codec_name: 'h264', width: 320 }),
        expect.objectContaining({ codec_type: 'audio', codec_name: 'aac' }),
      ]),
    );

    // The event's slot is taken: a second publisher is refused with 409.
    const second = await publisherPage();
    const refused = await publish(second, GOOD_KEY);
    expect(refused.status).toBe(409);
    await second.close();
    expect(bridges()).toHaveLength(1);

    // DELETE needs the same bearer.
    const sessionUrl = new URL(result.location ?? '', whip.url).toString();
    const wrong = await fetch(sessionUrl, {
      method: 'DELETE',
      headers: { authorization: 'Bearer someone-else' },
    });
    expect(wrong.status).toBe(401);
    const gone = await fetch(new URL('/whip/session/' + '0'.repeat(32), whip.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${GOOD_KEY}` },
    });
    expect(gone.status).toBe(404);
    const endsBefore = ends.length;
    const deleted = await fetch(sessionUrl, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${GOOD_KEY}` },
    });
    expect(deleted.status).toBe(200);
    expect(ends.slice(endsBefore)).toEqual([{ key: GOOD_KEY, stopped: true }]);
    expect(isAlive(bridge?.pid ?? 0)).toBe(false);
    expect(fs.existsSync(sdpPath)).toBe(false);
    expect(whip.sessions()).toBe(0);
    await page.close();
  });

  it('ends as a drop when the publisher goes away without DELETE', async () => {
    const page = await publisherPage();
    const result = await publish(page, GOOD_KEY);
    expect(result.status, result.body).toBe(201);
    await until('the connection', () =>
      page.evaluate(() => (window as unknown as WhipWindow).connectionState() === 'connected'),
    );
    // Trickle ICE: a candidate is taken (204); a stale ETag is 412; an ICE restart (new ufrag) is 422.
    const sessionUrl = new URL(result.location ?? '', whip.url).toString();
    const patch = (body: string, ifMatch?: string) =>
      fetch(sessionUrl, {
        method: 'PATCH',
        body,
        headers: {
          authorization: `Bearer ${GOOD_KEY}`,
          'content-type': 'application/trickle-ice-sdpfrag',
          ...(ifMatch ? { 'if-match': ifMatch } : {}),
        },
      });
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(
      await page.evaluate(() => (window as unknown as WhipWindow).localSdp()),
    );
    const candidate = 'a=candidate:1 1 udp 2122194687 127.0.0.1 9 typ host generation 0';
    const trickle = [
      'a=ice-ufrag:' + (ufrag?.[1] ?? ''),
      'm=audio 9 UDP/TLS/RTP/SAVPF 111',
      'a=mid:0',
      candidate,
      '',
    ];
    expect((await patch(trickle.join('\r\n'))).status).toBe(204);
    expect((await patch(trickle.join('\r\n'), '"stale"')).status).toBe(412);
    expect(
      (
        await patch(
          ['a=ice-ufrag:new1', 'a=ice-pwd:newpasswordnewpassword1', candidate, ''].join('\r\n'),
          '*',
        )
      ).status,
    ).toBe(422);

    const [bridge] = bridges();
    const endsBefore = ends.length;
    const closedAt = Date.now();
    await page.close();
    await until('the session to end', () => ends.length > endsBefore, 10_000);
    expect(Date.now() - closedAt).toBeLessThan(10_000);
    expect(ends.slice(endsBefore)).toEqual([{ key: GOOD_KEY, stopped: false }]);
    await until('the bridge to exit', () => !isAlive(bridge?.pid ?? 0), 5_000);
    expect(whip.sessions()).toBe(0);
  });
});
