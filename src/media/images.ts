import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { mapUriAt, parseMediaPlaylist, segmentAt } from '../../pipelines/hls-playlist.ts';
import { placeTiles, writeStoryboardVtt, type StoryboardLayout } from '../../pipelines/storyboard.ts';
import { buildPosterArgs } from '../../pipelines/vod-args.ts';
import { runFfmpeg } from './ffmpeg.ts';

/**
 * The frame at `atSeconds` of a finished rendition, as PNG in `workDir`: decodes one segment (with
 * its init) only. Returns undefined when the rendition has no segments.
 */
export async function cutPoster(
  rungDir: string,
  atSeconds: number,
  workDir: string,
  ffmpegPath: string,
): Promise<string | undefined> {
  const playlist = parseMediaPlaylist(await fs.readFile(path.join(rungDir, 'index.m3u8'), 'utf8'));
  const at = segmentAt(playlist.segments, atSeconds);
  const init = at ? mapUriAt(playlist, at.index) : undefined;
  if (!at || !init) return undefined;
  const input = path.join(workDir, 'poster-source.mp4');
  const frame = path.join(workDir, 'poster.png');
  await fs.writeFile(input, await fs.readFile(path.join(rungDir, init)));
  await fs.appendFile(input, await fs.readFile(path.join(rungDir, playlist.segments[at.index]!.uri)));
  await fs.rm(frame, { force: true });
  await runFfmpeg(ffmpegPath, buildPosterArgs({ input, atSeconds: at.offset, file: frame }));
  // A fragment whose timestamps do not start where its playlist says can leave nothing at the
  // offset (live periods): its first frame will do.
  if (!(await fs.stat(frame).catch(() => undefined))) {
    await runFfmpeg(ffmpegPath, buildPosterArgs({ input, atSeconds: 0, file: frame }));
  }
  return (await fs.stat(frame).catch(() => undefined)) ? frame : undefined;
}

/** Poster in JPEG and WebP from the full-size frame ffmpeg grabbed during the transcode. */
export async function writePoster(frame: string, outDir: string): Promise<{ width: number; height: number }> {
  const image = sharp(frame);
  const meta = await image.metadata();
  await Promise.all([
    image.clone().jpeg({ quality: 82, mozjpeg: true }).toFile(path.join(outDir, 'poster.jpg')),
    image.clone().webp({ quality: 78 }).toFile(path.join(outDir, 'poster.webp')),
  ]);
  return { width: meta.width, height: meta.height };
}

/** A handful of evenly spaced thumbnails (for the admin page) picked from the stills. */
export async function writeThumbnails(
  stills: readonly string[],
  outDir: string,
  count: number,
): Promise<number> {
  if (stills.length === 0) return 0;
  await fs.mkdir(path.join(outDir, 'thumbs'), { recursive: true });
  const picks = Array.from({ length: Math.min(count, stills.length) }, (_, i) =>
    Math.floor(((i + 0.5) * stills.length) / Math.min(count, stills.length)),
  );
  await Promise.all(
    picks.map((stillIndex, i) =>
      sharp(stills[stillIndex])
        .jpeg({ quality: 78 })
        .toFile(path.join(outDir, 'thumbs', `${i}.jpg`)),
    ),
  );
  return picks.length;
}

/** Sprite sheets of the stills plus the WebVTT index players use for seek previews. */
export async function writeStoryboard(opts: {
  stills: readonly string[];
  layout: StoryboardLayout;
  everySeconds: number;
  durationSeconds: number;
  outDir: string;
}): Promise<number> {
  const { stills, layout, outDir } = opts;
  if (stills.length === 0) return 0;
  const tiles = placeTiles(stills.length, layout);
  const sheets = Math.max(...tiles.map((t) => t.sheet)) + 1;
  const sheetName = (n: number) => `storyboard-${n}.jpg`;
  for (let sheet = 0; sheet < sheets; sheet++) {
    const inSheet = tiles.filter((t) => t.sheet === sheet);
    const rows = Math.ceil(inSheet.length / layout.columns);
    const columns = Math.min(layout.columns, inSheet.length);
    const composites = await Promise.all(
      inSheet.map(async (t) => ({
        input: await sharp(stills[t.index])
          .resize(layout.tileWidth, layout.tileHeight, { fit: 'fill' })
          .toBuffer(),
        left: t.x,
        top: t.y,
      })),
    );
    await sharp({
      create: {
        width: columns * layout.tileWidth,
        height: rows * layout.tileHeight,
        channels: 3,
        background: { r: 0, g: 0, b: 0 },
      },
    })
      .composite(composites)
      .jpeg({ quality: 70 })
      .toFile(path.join(outDir, sheetName(sheet)));
  }
  const vtt = writeStoryboardVtt(tiles, layout, opts.everySeconds, opts.durationSeconds, sheetName);
  await fs.writeFile(path.join(outDir, 'storyboard.vtt'), vtt);
  return sheets;
}
