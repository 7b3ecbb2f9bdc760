import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { mapUriAt, parseMediaPlaylist, type MediaPlaylist } from '../pipelines/hls-playlist.ts';
import { fitInside, stillsInterval } from '../pipelines/storyboard.ts';
import { buildStillsArgs } from '../pipelines/vod-args.ts';
import { findAsset, updateAsset } from '../src/db/assets.ts';
import { runFfmpeg } from '../src/media/ffmpeg.ts';
import type { RenditionInfo } from '../src/media/hls-output.ts';
import { downloadFragmentedMp4, writeStoryboard, writeThumbnails } from '../src/media/images.ts';
import { revisionPrefix } from '../src/media/layout.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * Thumbnails and the scrubbing storyboard of a live recording. The replay is published first
 * (within seconds of the end); this follows, and works the same on local disk and S3: the lowest
 * rung's stored pieces are downloaded into the job's scratch folder, one fragmented MP4 per period
 * (its init section, then its segments: a discontinuity brings a new init, so a new piece), ffmpeg's
 * concat demuxer reads the pieces in order for stills every few seconds, and the images are uploaded.
 *
 * The lowest rung rather than the top one: the stills are at most 320 px wide, which every rung
 * covers, and it is the least to download and decode (a one-hour 1080p top rung is gigabytes).
 */
export function createReplayImagesProcessor(deps: WorkerDeps) {
  const { storage } = deps;
  return async function processReplayImages(job: Job<JobPayload<'replay-images'>>): Promise<void> {
    const asset = await findAsset(deps.db, job.data.assetId);
    if (!asset || asset.status !== 'ready' || !asset.revision || asset.has_storyboard) return;
    const prefix = revisionPrefix(asset.id, asset.revision);
    const videos = (JSON.parse(asset.renditions_json ?? '[]') as RenditionInfo[]).filter(
      (r) => r.kind === 'video',
    );
    const lowest = videos.at(-1);
    const top = videos[0];
    if (!lowest || !top?.width || !top.height || !asset.duration_seconds) return;
    const renditionPrefix = `${prefix}/${lowest.name}`;
    const text = await storage.readText(`${renditionPrefix}/index.m3u8`);
    if (!text) throw new Error(`the replay's ${lowest.name} playlist is not in storage`);
    const playlist = parseMediaPlaylist(text);

    const work = path.join(deps.scratchDir, `images-${asset.id}-${crypto.randomBytes(4).toString('hex')}`);
    await fs.mkdir(work, { recursive: true, mode: 0o700 });
    try {
      const pieces: string[] = [];
      for (const [i, uris] of periodsOf(playlist).entries()) {
        const file = path.join(work, `piece-${i}.mp4`);
        await downloadFragmentedMp4(storage, renditionPrefix, uris, file);
        pieces.push(file);
      }
      const list = path.join(work, 'pieces.ffconcat');
      await fs.writeFile(
        list,
        ['ffconcat version 1.0', ...pieces.map((p) => `file '${p.replace(/'/g, "'\\''")}'`)].join('\n') +
          '\n',
      );
      const every = stillsInterval(asset.duration_seconds);
      const box = fitInside(top.width, top.height, 320);
      await runFfmpeg(
        deps.config.ffmpegPath,
        buildStillsArgs({
          concatList: list,
          everySeconds: every,
          width: box.width,
          height: box.height,
          pattern: path.join(work, 'still_%05d.png'),
        }),
      );
      const stills = (await fs.readdir(work))
        .filter((f) => f.startsWith('still_'))
        .sort()
        .map((f) => path.join(work, f));
      await writeThumbnails(storage, prefix, stills, 5);
      const tile = fitInside(box.width, box.height, 160);
      const sheets = await writeStoryboard({
        storage,
        prefix,
        stills,
        layout: { tileWidth: tile.width, tileHeight: tile.height, columns: 10, rows: 10 },
        everySeconds: every,
        durationSeconds: asset.duration_seconds,
      });
      if (sheets > 0) await updateAsset(deps.db, asset.id, { has_storyboard: 1 });
      deps.log.info('replay storyboard ready', { assetId: asset.id, stills: stills.length });
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  };
}

/** The playlist cut into periods: each an init section followed by the segments that use it, in order. */
function periodsOf(playlist: MediaPlaylist): string[][] {
  const periods: string[][] = [];
  let init: string | undefined;
  for (const [i, segment] of playlist.segments.entries()) {
    const map = mapUriAt(playlist, i);
    if (!map) continue;
    if (map !== init || segment.discontinuity) {
      init = map;
      periods.push([map]);
    }
    periods.at(-1)!.push(segment.uri);
  }
  return periods;
}
