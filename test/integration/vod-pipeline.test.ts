import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { OnairClient } from '../../src/cli/api-client.ts';
import { addApiKey, createAccount, generateApiKey } from '../../src/db/accounts.ts';
import type { AssetView } from '../../src/http/asset-view.ts';
import { firstFrameOf, makeSource } from '../helpers/media.ts';
import { serverDatabase, serverStorage, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let work: string;
const sources: Record<string, string> = {};

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-src-'));
  const at = (name: string) => path.join(work, name);
  const made = await Promise.all([
    makeSource(at('landscape-1080.mp4'), { width: 1920, height: 1080, seconds: 6 }),
    makeSource(at('landscape-720.mp4'), { width: 1280, height: 720, seconds: 5 }),
    makeSource(at('portrait.mp4'), { width: 720, height: 1280, seconds: 5 }),
    makeSource(at('silent.mp4'), { width: 640, height: 360, seconds: 4, audio: false }),
    makeSource(at('voice.m4a'), { seconds: 5, video: false }),
    makeSource(at('long-1080.mp4'), { width: 1920, height: 1080, seconds: 30 }),
  ]);
  for (const file of made) sources[path.basename(file)] = file;
  // A file cut in half: the mp4 index (moov) is at the end, so it is gone.
  const whole = fs.readFileSync(sources['landscape-720.mp4']!);
  fs.writeFileSync(at('truncated.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));
  fs.writeFileSync(at('notes.txt'), 'These are my speaker notes, not a video.\n'.repeat(200));
  sources['truncated.mp4'] = at('truncated.mp4');
  sources['notes.txt'] = at('notes.txt');
  server = await startTestServer();
}, 180_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

async function uploadAndWait(file: string, title = path.basename(file)): Promise<AssetView> {
  const asset = await server.client.upload(file, title);
  expect(asset.status).toBe('uploaded');
  return server.client.waitForAsset(asset.id, undefined, 200);
}

async function fetchText(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return response.text();
}

/** Downloads init + segment into one file that ffprobe can decode on its own. */
async function segmentFile(playlistUrl: string, index: number): Promise<string> {
  const playlist = parseMediaPlaylist(await fetchText(playlistUrl));
  const base = playlistUrl.slice(0, playlistUrl.lastIndexOf('/') + 1);
  const init = Buffer.from(await (await fetch(base + playlist.mapUri!)).arrayBuffer());
  const segment = Buffer.from(await (await fetch(base + playlist.segments[index]!.uri)).arrayBuffer());
  const file = path.join(work, `seg-${Math.random().toString(36).slice(2)}.mp4`);
  fs.writeFileSync(file, Buffer.concat([init, segment]));
  return file;
}

describe('VOD pipeline', () => {
  it('turns a 1080p upload into a four-rung, keyframe-aligned HLS ladder with honest bandwidth', async () => {
    const asset = await uploadAndWait(sources['landscape-1080.mp4']!);
    expect(asset.status, asset.error ?? '').toBe('ready');
    expect(asset.attempts).toBe(1);
    expect(asset.progress).toBe(100);
    expect(asset.durationSeconds).toBeCloseTo(6, 0);
    expect(asset.source.video).toMatchObject({ width: 1920, height: 1080 });

    const masterUrl = asset.playback!.master;
    const masterText = await fetchText(masterUrl);
    expect(masterText).toContain('#EXT-X-INDEPENDENT-SEGMENTS');
    const master = parseMasterPlaylist(masterText);
    expect(master.variants.map((v) => v.resolution)).toEqual([
      { width: 1920, height: 1080 },
      { width: 1280, height: 720 },
      { width: 854, height: 480 },
      { width: 640, height: 360 },
    ]);
    expect(master.audioUris).toEqual(['audio/index.m3u8']);
    const base = masterUrl.slice(0, masterUrl.lastIndexOf('/') + 1);

    let boundaries: string | undefined;
    for (const variant of master.variants) {
      expect(variant.codecs[0]).toMatch(/^avc1\.[0-9a-f]{6}$/);
      expect(variant.codecs[1]).toBe('mp4a.40.2');
      expect(variant.frameRate).toBe(30);
      expect(variant.averageBandwidth).toBeLessThanOrEqual(variant.bandwidth);

      const playlistUrl = base + variant.uri;
      const playlist = parseMediaPlaylist(await fetchText(playlistUrl));
      expect(playlist.playlistType).toBe('VOD');
      expect(playlist.ended).toBe(true);
      // Same segment boundaries in every rung.
      const durations = playlist.segments.map((s) => s.duration.toFixed(3)).join(',');
      boundaries ??= durations;
      expect(durations).toBe(boundaries);

      // BANDWIDTH covers the measured peak of any full-length segment (video + the audio it plays with).
      const vbase = playlistUrl.slice(0, playlistUrl.lastIndexOf('/') + 1);
      let peak = 0;
      for (const s of playlist.segments.filter((s) => s.duration >= playlist.targetDuration / 2)) {
        const bytes = (await (await fetch(vbase + s.uri)).arrayBuffer()).byteLength;
        peak = Math.max(peak, (bytes * 8) / s.duration);
      }
      expect(variant.bandwidth).toBeGreaterThanOrEqual(peak);

      // Every segment of every rung starts on a keyframe, at the same time as in the other rungs.
      const starts: number[] = [];
      for (let i = 0; i < playlist.segments.length; i++) {
        const frame = await firstFrameOf(await segmentFile(playlistUrl, i));
        expect(frame.keyFrame, `${variant.uri} segment ${i}`).toBe(true);
        starts.push(Number(frame.ptsTime.toFixed(3)));
      }
      const expected = playlist.segments.map((_, i) =>
        Number(
          playlist.segments
            .slice(0, i)
            .reduce((t, s) => t + s.duration, 0)
            .toFixed(3),
        ),
      );
      starts.forEach((t, i) => expect(t).toBeCloseTo(expected[i]!, 1));
    }

    // Poster: a real image at the top rung's size, in JPEG and WebP; storyboard indexed in WebVTT.
    const poster = await sharp(
      Buffer.from(await (await fetch(asset.playback!.poster!)).arrayBuffer()),
    ).metadata();
    expect(poster).toMatchObject({ format: 'jpeg', width: 1920, height: 1080 });
    const webp = await sharp(
      Buffer.from(await (await fetch(asset.playback!.posterWebp!)).arrayBuffer()),
    ).metadata();
    expect(webp).toMatchObject({ format: 'webp', width: 1920, height: 1080 });
    const vtt = await fetchText(asset.playback!.storyboard!);
    expect(vtt.startsWith('WEBVTT')).toBe(true);
    const sprite = /^(storyboard-0\.jpg)#xywh=\d+,\d+,160,90$/m.exec(vtt);
    expect(sprite).not.toBeNull();
    const sheet = await sharp(Buffer.from(await (await fetch(base + sprite![1]!)).arrayBuffer())).metadata();
    expect(sheet.format).toBe('jpeg');
  });

  it('gives a 720p upload three rungs and never upscales', async () => {
    const asset = await uploadAndWait(sources['landscape-720.mp4']!);
    expect(asset.status, asset.error ?? '').toBe('ready');
    const video = asset.renditions.filter((r) => r.kind === 'video');
    expect(video.map((r) => `${r.width}x${r.height}`)).toEqual(['1280x720', '854x480', '640x360']);
  });

  it('gives a portrait upload portrait rungs', async () => {
    const asset = await uploadAndWait(sources['portrait.mp4']!);
    expect(asset.status, asset.error ?? '').toBe('ready');
    const video = asset.renditions.filter((r) => r.kind === 'video');
    expect(video.map((r) => `${r.width}x${r.height}`)).toEqual(['720x1280', '480x854', '360x640']);
    const poster = await sharp(
      Buffer.from(await (await fetch(asset.playback!.poster!)).arrayBuffer()),
    ).metadata();
    expect(poster).toMatchObject({ width: 720, height: 1280 });
  });

  it('handles a video without audio', async () => {
    const asset = await uploadAndWait(sources['silent.mp4']!);
    expect(asset.status, asset.error ?? '').toBe('ready');
    expect(asset.renditions.map((r) => r.kind)).toEqual(['video']);
    const master = parseMasterPlaylist(await fetchText(asset.playback!.master));
    expect(master.audioUris).toEqual([]);
    expect(master.variants[0]!.codecs).toHaveLength(1);
    expect(master.variants[0]!.audioGroup).toBeUndefined();
  });

  it('turns an audio-only upload into audio-only HLS', async () => {
    const asset = await uploadAndWait(sources['voice.m4a']!);
    expect(asset.status, asset.error ?? '').toBe('ready');
    expect(asset.renditions.map((r) => r.kind)).toEqual(['audio']);
    expect(asset.playback!.poster).toBeNull();
    const master = parseMasterPlaylist(await fetchText(asset.playback!.master));
    expect(master.variants).toHaveLength(1);
    expect(master.variants[0]!.codecs).toEqual(['mp4a.40.2']);
    expect(master.variants[0]!.resolution).toBeUndefined();
  });

  it('refuses a file that is not media, with a reason and a single attempt', async () => {
    const asset = await uploadAndWait(sources['notes.txt']!);
    expect(asset.status).toBe('failed');
    expect(asset.error).toMatch(/not a recording onair can read/);
    expect(asset.error).not.toContain(server.dataDir);
    expect(asset.attempts).toBe(1);
  });

  it('refuses a truncated file, with a reason and a single attempt', async () => {
    const asset = await uploadAndWait(sources['truncated.mp4']!);
    expect(asset.status).toBe('failed');
    expect(asset.error).toMatch(/not a recording onair can read|truncated|incomplete/);
    expect(asset.attempts).toBe(1);
  });

  it('is playable from the start while the ladder is still encoding', async () => {
    const uploaded = await server.client.upload(sources['long-1080.mp4']!, 'growing');
    let seen: AssetView | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const a = await server.client.getAsset(uploaded.id);
      if (a.status === 'processing' && a.playback) {
        seen = a;
        break;
      }
      expect(a.status).not.toBe('failed');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen, 'a playback URL while processing').toBeDefined();
    const master = parseMasterPlaylist(await fetchText(seen!.playback!.master));
    const base = seen!.playback!.master.slice(0, seen!.playback!.master.lastIndexOf('/') + 1);
    const growing = await fetch(base + master.variants.at(-1)!.uri);
    expect(growing.headers.get('cache-control')).toBe('public, max-age=1');
    const playlist = parseMediaPlaylist(await growing.text());
    expect(playlist.segments.length).toBeGreaterThan(0);
    expect(playlist.ended).toBe(false);
    const still = await server.client.getAsset(uploaded.id);
    expect(still.status).toBe('processing');
    const done = await server.client.waitForAsset(uploaded.id, undefined, 250);
    expect(done.status, done.error ?? '').toBe('ready');
  });

  it('finishes the job after the worker process is killed mid-transcode, leaving no scratch files', async () => {
    const uploaded = await server.client.upload(sources['long-1080.mp4']!, 'killed');
    let progressSeen = 0;
    while (progressSeen < 15) {
      const a = await server.client.getAsset(uploaded.id);
      if (a.stage === 'transcoding') progressSeen = a.progress;
      expect(a.status).not.toBe('ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const [pid] = server.workerPids();
    process.kill(pid!, 'SIGKILL');

    const done = await server.client.waitForAsset(uploaded.id, undefined, 250);
    expect(done.status, done.error ?? '').toBe('ready');
    // Only the published revision remains in storage (local disk or the bucket), with no scratch
    // folder or temporary files in it.
    const storage = await serverStorage(server);
    let keys: string[];
    try {
      keys = await storage.list(`assets/${uploaded.id}`);
    } finally {
      storage.close();
    }
    const published = done.playback!.master.split('/').at(-2)!;
    expect(new Set(keys.map((key) => key.split('/')[2]))).toEqual(new Set([published]));
    expect(keys).toContain(`assets/${uploaded.id}/${published}/master.m3u8`);
    expect(keys.filter((k) => k.includes('.work') || k.endsWith('.tmp') || k.endsWith('.part'))).toEqual([]);
    // Scratch is local disk on either backend (DATA_DIR/scratch): none left for this asset either.
    const scratch = path.join(server.dataDir, 'scratch');
    const scratchLeft = fs.existsSync(scratch)
      ? fs.readdirSync(scratch, { recursive: true }).map(String)
      : [];
    expect(scratchLeft.filter((f) => f.includes(uploaded.id))).toEqual([]);
    const master = parseMasterPlaylist(await fetchText(done.playback!.master));
    expect(master.variants).toHaveLength(4);
  });
});

describe('assets API', () => {
  it("keeps accounts apart: account B cannot see account A's asset", async () => {
    const db = serverDatabase(server);
    const other = await createAccount(db, 'other');
    const key = generateApiKey();
    await addApiKey(db, other.id, key, 'test');
    await db.destroy();
    const b = new OnairClient(server.url, key);
    const { assets } = await server.client.listAssets();
    const mine = assets[0]!;
    await expect(b.getAsset(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(b.deleteAsset(mine.id)).rejects.toMatchObject({ status: 404 });
    expect((await b.listAssets()).assets).toEqual([]);
  });

  it('answers bad requests with what to fix', async () => {
    const post = (query: string, body: string, auth = true) =>
      fetch(`${server.url}/api/assets${query}`, {
        method: 'POST',
        body,
        headers: auth ? { authorization: `Bearer ${server.apiKey}` } : {},
      });
    const noAuth = await post('?title=x', 'abc', false);
    expect(noAuth.status).toBe(401);
    const noTitle = await post('', 'abc');
    expect(noTitle.status).toBe(400);
    expect(((await noTitle.json()) as { error: { message: string } }).error.message).toMatch(/title/);
    const empty = await post('?title=x', '');
    expect(empty.status).toBe(400);
    const badId = await fetch(`${server.url}/api/assets/nope`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(badId.status).toBe(400);
  });

  it('refuses an upload over the size limit and keeps nothing of it', async () => {
    const small = await startTestServer({ MAX_UPLOAD_SIZE: '1kb', WORKERS: '0' });
    try {
      const response = await fetch(`${small.url}/api/assets?title=big`, {
        method: 'POST',
        body: Buffer.alloc(4096),
        headers: { authorization: `Bearer ${small.apiKey}` },
      });
      expect(response.status).toBe(413);
      // Nothing under sources/ in its storage: no object, no temporary file.
      const storage = await serverStorage(small);
      try {
        expect(await storage.list('sources')).toEqual([]);
      } finally {
        storage.close();
      }
    } finally {
      await small.close();
    }
  });

  it('deletes every file of an asset', async () => {
    const asset = await uploadAndWait(sources['silent.mp4']!);
    const storage = await serverStorage(server);
    try {
      // Its files are there, in this server's storage, until the delete...
      expect(await storage.list(`assets/${asset.id}`)).not.toEqual([]);
      expect(await storage.list(`sources/${asset.id}`)).toEqual([`sources/${asset.id}/source`]);
      await server.client.deleteAsset(asset.id);
      // ...and none of them after it.
      expect(await storage.list(`assets/${asset.id}`)).toEqual([]);
      expect(await storage.list(`sources/${asset.id}`)).toEqual([]);
    } finally {
      storage.close();
    }
    await expect(server.client.getAsset(asset.id)).rejects.toMatchObject({ status: 404 });
    expect((await fetch(asset.playback!.master)).status).toBe(404);
  });
});
