import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Job } from 'bullmq';
import { mapUriAt, parseMediaPlaylist } from '../pipelines/hls-playlist.ts';
import { fitInside, stillsInterval } from '../pipelines/storyboard.ts';
import { buildStillsArgs } from '../pipelines/vod-args.ts';
import { findAsset, updateAsset } from '../src/db/assets.ts';
import { runFfmpeg } from '../src/media/ffmpeg.ts';
import type { RenditionInfo } from '../src/media/hls-output.ts';
import { writeStoryboard, writeThumbnails } from '../src/media/images.ts';
import { revisionPrefix } from '../src/media/layout.ts';
import type { JobPayload } from '../src/queue/catalogue.ts';
import type { WorkerDeps } from './deps.ts';

/**
 * Thumbnails and the scrubbing storyboard of a live recording. The replay is published first
 * (within seconds of the end); this follows from the lowest rung: each period's init + segments
 * become one fMP4 piece, ffmpeg's concat demuxer reads them in order, stills every few seconds.
 */
export function createReplayImagesProcessor(deps: WorkerDeps) {
  return async function processReplayImages(job: Job<JobPayload<'replay-images'>>): Promise<void> {
    const asset = await findAsset(deps.db, job.data.assetId);
    if (!asset || asset.status !== 'ready' || !asset.revision || asset.has_storyboard) return;
    const dir = deps.storage.localDir(revisionPrefix(asset.id, asset.revision));
    const videos = (JSON.parse(asset.renditions_json ?? '[]') as RenditionInfo[]).filter(
      (r) => r.kind === 'video',
    );
    const lowest = videos.at(-1);
    const top = videos[0];
    if (!dir || !lowest || !top?.width || !top.height || !asset.duration_seconds) return;
    const rungDir = path.join(dir, lowest.name);
    const playlist = parseMediaPlaylist(await fsp.readFile(path.join(rungDir, 'index.m3u8'), 'utf8'));
    const work = path.join(dir, '.images');
    await fsp.rm(work, { recursive: true, force: true });
    await fsp.mkdir(work, { recursive: true });
    try {
      // One piece per init segment (a period), in order.
      const pieces: string[] = [];
      let current: { init: string; file: string } | undefined;
      for (const [i, segment] of playlist.segments.entries()) {
        const init = mapUriAt(playlist, i);
        if (!init) continue;
        if (!current || current.init !== init) {
          current = { init, file: path.join(work, `piece-${pieces.length}.mp4`) };
          pieces.push(current.file);
          await fsp.copyFile(path.join(rungDir, init), current.file);
        }
        await pipeline(
          fs.createReadStream(path.join(rungDir, segment.uri)),
          fs.createWriteStream(current.file, { flags: 'a' }),
        );
      }
      const list = path.join(work, 'pieces.ffconcat');
      await fsp.writeFile(
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
      const stills = (await fsp.readdir(work))
        .filter((f) => f.startsWith('still_'))
        .sort()
        .map((f) => path.join(work, f));
      await writeThumbnails(stills, dir, 5);
      const tile = fitInside(box.width, box.height, 160);
      const sheets = await writeStoryboard({
        stills,
        layout: { tileWidth: tile.width, tileHeight: tile.height, columns: 10, rows: 10 },
        everySeconds: every,
        durationSeconds: asset.duration_seconds,
        outDir: dir,
      });
      if (sheets > 0) await updateAsset(deps.db, asset.id, { has_storyboard: 1 });
      deps.log.info('replay storyboard ready', { assetId: asset.id, stills: stills.length });
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  };
}
