import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { mapUriAt, segmentAt, type MediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { placeTiles, writeStoryboardVtt, type StoryboardLayout } from '../../pipelines/storyboard.ts';
import { buildPosterArgs } from '../../pipelines/vod-args.ts';
import type { Storage } from '../storage/storage.ts';
import { runFfmpeg } from './ffmpeg.ts';

/**
 * Poster, thumbnails and storyboard. Frames are decoded into a job's local scratch folder; the
 * images go to storage from memory (`putBytes`), never into a storage folder by path.
 */

/**
 * Copies stored fMP4 pieces of a rendition into one local file, in order: an init section followed
 * by segments that use it is a fragmented MP4 ffmpeg reads like any other file. `uris` are relative
 * to `renditionPrefix`, the init section first. One object at a time: segments are a few MB.
 */
export async function downloadFragmentedMp4(
  storage: Storage,
  renditionPrefix: string,
  uris: readonly string[],
  file: string,
): Promise<void> {
  await fsp.rm(file, { force: true });
  for (const uri of uris) {
    await pipeline(
      storage.read(`${renditionPrefix}/${uri}`),
      fs.createWriteStream(file, { flags: 'a', mode: 0o600 }),
    );
  }
}

/**
 * The frame at `atSeconds` of a stored rendition, as PNG in `scratchDir`: downloads and decodes one
 * segment (with its init) only, so the poster is cut from what viewers see, at the top rung's size.
 * `renditionPrefix` is the rendition's storage folder, `playlist` its (complete) playlist.
 * Returns undefined when the rendition has no segments.
 */
export async function cutPoster(
  storage: Storage,
  renditionPrefix: string,
  playlist: MediaPlaylist,
  atSeconds: number,
  scratchDir: string,
  ffmpegPath: string,
): Promise<string | undefined> {
  const at = segmentAt(playlist.segments, atSeconds);
  const init = at ? mapUriAt(playlist, at.index) : undefined;
  if (!at || !init) return undefined;
  const input = path.join(scratchDir, 'poster-source.mp4');
  const frame = path.join(scratchDir, 'poster.png');
  await downloadFragmentedMp4(storage, renditionPrefix, [init, playlist.segments[at.index]!.uri], input);
  await fsp.rm(frame, { force: true });
  try {
    await runFfmpeg(ffmpegPath, buildPosterArgs({ input, atSeconds: at.offset, file: frame }));
    // A fragment whose timestamps do not start where its playlist says can leave nothing at the
    // offset (live periods): its first frame will do.
    if (!(await exists(frame))) {
      await runFfmpeg(ffmpegPath, buildPosterArgs({ input, atSeconds: 0, file: frame }));
    }
  } finally {
    await fsp.rm(input, { force: true });
  }
  return (await exists(frame)) ? frame : undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.stat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Poster in JPEG and WebP (`<prefix>/poster.jpg`, `poster.webp`) from a full-size frame. */
export async function writePoster(
  storage: Storage,
  prefix: string,
  frame: string,
): Promise<{ width: number; height: number }> {
  const image = sharp(frame);
  const meta = await image.metadata();
  const [jpeg, webp] = await Promise.all([
    image.clone().jpeg({ quality: 82, mozjpeg: true }).toBuffer(),
    image.clone().webp({ quality: 78 }).toBuffer(),
  ]);
  await Promise.all([
    storage.putBytes(`${prefix}/poster.jpg`, jpeg, { contentType: 'image/jpeg' }),
    storage.putBytes(`${prefix}/poster.webp`, webp, { contentType: 'image/webp' }),
  ]);
  return { width: meta.width, height: meta.height };
}

/** A handful of evenly spaced thumbnails (`<prefix>/thumbs/<n>.jpg`, for the admin page) picked from the stills. */
export async function writeThumbnails(
  storage: Storage,
  prefix: string,
  stills: readonly string[],
  count: number,
): Promise<number> {
  if (stills.length === 0) return 0;
  const picks = Array.from({ length: Math.min(count, stills.length) }, (_, i) =>
    Math.floor(((i + 0.5) * stills.length) / Math.min(count, stills.length)),
  );
  await Promise.all(
    picks.map(async (stillIndex, i) => {
      const jpeg = await sharp(stills[stillIndex]).jpeg({ quality: 78 }).toBuffer();
      await storage.putBytes(`${prefix}/thumbs/${i}.jpg`, jpeg, { contentType: 'image/jpeg' });
    }),
  );
  return picks.length;
}

/**
 * Sprite sheets of the stills (`<prefix>/storyboard-<n>.jpg`) plus the WebVTT index players use for
 * seek previews (`<prefix>/storyboard.vtt`), stored after the sheets it names.
 */
export async function writeStoryboard(opts: {
  storage: Storage;
  prefix: string;
  stills: readonly string[];
  layout: StoryboardLayout;
  everySeconds: number;
  durationSeconds: number;
}): Promise<number> {
  const { storage, prefix, stills, layout } = opts;
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
    const jpeg = await sharp({
      create: {
        width: columns * layout.tileWidth,
        height: rows * layout.tileHeight,
        channels: 3,
        background: { r: 0, g: 0, b: 0 },
      },
    })
      .composite(composites)
      .jpeg({ quality: 70 })
      .toBuffer();
    await storage.putBytes(`${prefix}/${sheetName(sheet)}`, jpeg, { contentType: 'image/jpeg' });
  }
  const vtt = writeStoryboardVtt(tiles, layout, opts.everySeconds, opts.durationSeconds, sheetName);
  await storage.putBytes(`${prefix}/storyboard.vtt`, vtt, { contentType: 'text/vtt' });
  return sheets;
}
