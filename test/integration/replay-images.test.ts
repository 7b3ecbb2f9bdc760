import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseMediaPlaylist,
  writeVodMediaPlaylist,
  type MediaSegment,
} from '../../pipelines/hls-playlist.ts';
import { loadConfig } from '../../src/config.ts';
import { createAccount } from '../../src/db/accounts.ts';
import { findAsset, insertAsset, updateAsset } from '../../src/db/assets.ts';
import { migrateToLatest, openDatabase } from '../../src/db/database.ts';
import { newId } from '../../src/ids.ts';
import { createLogger } from '../../src/log.ts';
import type { RenditionInfo } from '../../src/media/hls-output.ts';
import { revisionPrefix } from '../../src/media/layout.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { createReplayImagesProcessor } from '../../workers/replay-images.ts';
import { Metrics } from '../../src/services/metrics.ts';

const run = promisify(execFile);
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-replay-images-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** One live period of a rendition as the live encoder leaves it: an init section and 2 s fMP4 segments. */
async function encodePeriod(
  dir: string,
  seconds: number,
  tsOffset: number,
): Promise<readonly MediaSegment[]> {
  fs.mkdirSync(dir, { recursive: true });
  await run('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-t', String(seconds), '-i', 'testsrc2=size=640x360:rate=30'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-pix_fmt', 'yuv420p'],
    // A later period's timestamps do not start at 0 (the encoder kept its clock across a reconnect).
    ...['-output_ts_offset', String(tsOffset)],
    ...['-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4'],
    ...['-hls_fmp4_init_filename', 'init_0.mp4', '-hls_segment_filename', path.join(dir, 'seg_%05d.m4s')],
    path.join(dir, 'index.m3u8'),
  ]);
  return parseMediaPlaylist(fs.readFileSync(path.join(dir, 'index.m3u8'), 'utf8')).segments;
}

/** Storage that is "remote": nothing may be read through a local path of it. */
function remoteLike(inner: Storage): Storage {
  return Object.assign(Object.create(inner) as Storage, {
    localCopy: () => Promise.reject(new Error('replay images must not need a local copy')),
  });
}

describe('replay images of a live recording', () => {
  it('downloads every period of the lowest rung to scratch, stores thumbnails and storyboard, removes the scratch', async () => {
    const dataDir = path.join(work, 'data');
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' });
    const db = openDatabase(config);
    try {
      await migrateToLatest(db);
      const local = new LocalStorage(path.join(dataDir, 'media'));
      const storage = remoteLike(local);
      const scratchDir = path.join(dataDir, 'scratch', 'worker-test');
      fs.mkdirSync(scratchDir, { recursive: true });

      // Two periods of the lowest rung (a reconnect in between), stored as the live job leaves them.
      const assetId = newId('as');
      const revision = 'live';
      const prefix = revisionPrefix(assetId, revision);
      const segments: MediaSegment[] = [];
      for (const [i, [seconds, offset]] of [
        [4, 0],
        [4, 60],
      ].entries()) {
        const period = `p000${i + 1}`;
        const dir = path.join(work, 'encoded', period);
        const encoded = await encodePeriod(dir, seconds!, offset!);
        for (const name of fs.readdirSync(dir).filter((f) => !f.endsWith('.m3u8'))) {
          await local.putBytes(`${prefix}/360p/${period}/${name}`, fs.readFileSync(path.join(dir, name)));
        }
        encoded.forEach((s, j) =>
          segments.push({
            uri: `${period}/${s.uri}`,
            duration: s.duration,
            ...(j === 0 ? { mapUri: `${period}/init_0.mp4`, ...(i > 0 ? { discontinuity: true } : {}) } : {}),
          }),
        );
      }
      await local.putBytes(
        `${prefix}/360p/index.m3u8`,
        writeVodMediaPlaylist({ targetDuration: 2, mediaSequence: 0, segments, ended: true }),
      );

      const account = await createAccount(db, 'test');
      await insertAsset(db, {
        id: assetId,
        accountId: account.id,
        title: 'webinar replay',
        sourceKey: `live/${assetId}`,
        sourceBytes: 0,
        sourceName: undefined,
      });
      const renditions: Partial<RenditionInfo>[] = [
        { name: '720p', kind: 'video', width: 1280, height: 720 },
        { name: '360p', kind: 'video', width: 640, height: 360 },
      ];
      await updateAsset(db, assetId, {
        status: 'ready',
        revision,
        duration_seconds: 8,
        renditions_json: JSON.stringify(renditions),
      });

      const processor = createReplayImagesProcessor({
        metrics: new Metrics('worker'),
        db,
        storage,
        scratchDir,
        config,
        log: createLogger('error'),
        // Not used by this job.
        sink: undefined as never,
        redis: undefined as never,
        queues: undefined as never,
        secret: 'x'.repeat(32),
      });
      await processor({ id: 'j1', data: { assetId } } as never);

      // One still every 2 s across both periods (8 s), in tiles of a sheet indexed by WebVTT.
      const vtt = (await local.readText(`${prefix}/storyboard.vtt`))!;
      expect(vtt.startsWith('WEBVTT')).toBe(true);
      const cues = vtt.split('\n').filter((l) => l.startsWith('storyboard-0.jpg#xywh='));
      expect(cues.length).toBeGreaterThanOrEqual(4);
      expect(vtt).toContain('00:00:08.000');
      const sheet = await sharp(await local.readBytes(`${prefix}/storyboard-0.jpg`)).metadata();
      expect(sheet.format).toBe('jpeg');
      const thumbs = (await local.list(`${prefix}/thumbs`)).map((k) => k.slice(prefix.length + 1));
      expect(thumbs).toEqual(['thumbs/0.jpg', 'thumbs/1.jpg', 'thumbs/2.jpg', 'thumbs/3.jpg']);
      expect((await findAsset(db, assetId))?.has_storyboard).toBe(1);
      // The job's scratch folder is gone.
      expect(fs.readdirSync(scratchDir)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
