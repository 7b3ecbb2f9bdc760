import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  AAC_LC_CODEC,
  averageBitrate,
  avcCodecFromInit,
  parseMediaPlaylist,
  peakBitrate,
  targetDurationOf,
  writeMasterPlaylist,
  writeVodMediaPlaylist,
  type MasterPlaylist,
  type MediaPlaylist,
  type SizedSegment,
} from '../../pipelines/hls-playlist.ts';
import { rationalValue } from '../../pipelines/rational.ts';
import { AUDIO_RENDITION } from '../../pipelines/vod-args.ts';
import type { Ladder } from '../../pipelines/vod-ladder.ts';

/** What the API reports per rendition once an asset is ready. */
export interface RenditionInfo {
  readonly name: string;
  readonly kind: 'video' | 'audio';
  readonly width?: number;
  readonly height?: number;
  readonly frameRate?: number;
  readonly codecs: string;
  /** Peak segment bit rate of this rendition alone (RFC 8216 4.3.4.2). */
  readonly peakBitrate: number;
  readonly averageBitrate: number;
  readonly bytes: number;
  readonly segments: number;
  readonly playlist: string;
}

export const MASTER_PLAYLIST = 'master.m3u8';
const AUDIO_GROUP = 'aud';
const AUDIO_ESTIMATE_BPS = 140_000;

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

function renditionNames(ladder: Ladder | undefined, audio: boolean): string[] {
  return [...(ladder?.rungs.map((r) => r.name) ?? []), ...(audio ? [AUDIO_RENDITION] : [])];
}

/**
 * While encoding: once every rendition has a playlist, write a master with estimated bandwidths
 * and a start offset of 0, so players can begin at the start of a still-growing EVENT asset.
 * Returns false while some rendition has not produced its first segment yet.
 */
export async function writePreviewMaster(
  dir: string,
  ladder: Ladder | undefined,
  audio: boolean,
  /** 0 starts players at the beginning (an asset still encoding); undefined at the live edge. */
  startOffset: number | undefined = 0,
): Promise<boolean> {
  const names = renditionNames(ladder, audio);
  for (const name of names) if (!(await exists(path.join(dir, name, 'index.m3u8')))) return false;
  const codecs = await Promise.all((ladder?.rungs ?? []).map((r) => videoCodecOf(dir, r.name)));
  const master: MasterPlaylist = {
    ...(startOffset !== undefined ? { startOffset } : {}),
    ...(audio && ladder
      ? { audio: { groupId: AUDIO_GROUP, name: 'Audio', uri: `${AUDIO_RENDITION}/index.m3u8` } }
      : {}),
    variants: ladder
      ? ladder.rungs.map((r, i) => ({
          uri: `${r.name}/index.m3u8`,
          bandwidth: r.maxBitrateKbps * 1000 + (audio ? AUDIO_ESTIMATE_BPS : 0),
          codecs: [codecs[i]!, ...(audio ? [AAC_LC_CODEC] : [])].join(','),
          width: r.width,
          height: r.height,
          frameRate: rationalValue(ladder.frameRate),
        }))
      : [{ uri: `${AUDIO_RENDITION}/index.m3u8`, bandwidth: AUDIO_ESTIMATE_BPS, codecs: AAC_LC_CODEC }],
  };
  await writeAtomically(path.join(dir, MASTER_PLAYLIST), writeMasterPlaylist(master));
  return true;
}

/** The exact H.264 codec string of a rendition, from its init segment. */
async function videoCodecOf(dir: string, name: string, playlist?: MediaPlaylist): Promise<string> {
  const parsed =
    playlist ?? parseMediaPlaylist(await fs.readFile(path.join(dir, name, 'index.m3u8'), 'utf8'));
  if (!parsed.mapUri) throw new Error(`rendition ${name} has no init segment`);
  const codec = avcCodecFromInit(await fs.readFile(path.join(dir, name, parsed.mapUri)));
  if (!codec) throw new Error(`rendition ${name} has no H.264 configuration in its init segment`);
  return codec;
}

/**
 * Replaces `file` in one step: readers see the old text or the new, never half of one. The temporary
 * name is the writer's own, so two writers of one playlist (a preview master racing the final one)
 * cannot rename each other's half-written file into place; a writer that dies leaves only its `.tmp`.
 */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    await fs.writeFile(temp, text);
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

interface MeasuredRendition {
  readonly name: string;
  readonly playlist: MediaPlaylist;
  readonly sized: SizedSegment[];
  readonly codec: string;
}

async function measure(dir: string, name: string, kind: 'video' | 'audio'): Promise<MeasuredRendition> {
  const text = await fs.readFile(path.join(dir, name, 'index.m3u8'), 'utf8');
  const playlist = parseMediaPlaylist(text);
  if (playlist.segments.length === 0) throw new Error(`rendition ${name} has no segments`);
  const sized = await Promise.all(
    playlist.segments.map(async (s) => ({
      duration: s.duration,
      bytes: (await fs.stat(path.join(dir, name, s.uri))).size,
    })),
  );
  const codec = kind === 'video' ? await videoCodecOf(dir, name, playlist) : AAC_LC_CODEC;
  return { name, playlist, sized, codec };
}

/**
 * After the encode: rewrite each EVENT playlist as VOD, measure real peak and average bit rates
 * from the segment sizes, and write the master playlist last: the output is complete the moment
 * the master names it.
 */
export async function finalizeHls(
  dir: string,
  ladder: Ladder | undefined,
  audio: boolean,
): Promise<RenditionInfo[]> {
  const videos = await Promise.all((ladder?.rungs ?? []).map((r) => measure(dir, r.name, 'video')));
  const audioRendition = audio ? await measure(dir, AUDIO_RENDITION, 'audio') : undefined;
  const allSegments = [...videos, ...(audioRendition ? [audioRendition] : [])].flatMap(
    (m) => m.playlist.segments,
  );
  const target = targetDurationOf(allSegments);

  const info: RenditionInfo[] = [];
  const audioPeak = audioRendition ? peakBitrate(audioRendition.sized, target) : 0;
  const audioAverage = audioRendition ? averageBitrate(audioRendition.sized) : 0;
  for (const [i, m] of videos.entries()) {
    const rung = ladder!.rungs[i]!;
    info.push({
      name: m.name,
      kind: 'video',
      width: rung.width,
      height: rung.height,
      frameRate: rationalValue(ladder!.frameRate),
      codecs: m.codec,
      peakBitrate: peakBitrate(m.sized, target),
      averageBitrate: averageBitrate(m.sized),
      bytes: m.sized.reduce((s, x) => s + x.bytes, 0),
      segments: m.sized.length,
      playlist: `${m.name}/index.m3u8`,
    });
  }
  if (audioRendition) {
    info.push({
      name: AUDIO_RENDITION,
      kind: 'audio',
      codecs: AAC_LC_CODEC,
      peakBitrate: audioPeak,
      averageBitrate: audioAverage,
      bytes: audioRendition.sized.reduce((s, x) => s + x.bytes, 0),
      segments: audioRendition.sized.length,
      playlist: `${AUDIO_RENDITION}/index.m3u8`,
    });
  }

  for (const m of [...videos, ...(audioRendition ? [audioRendition] : [])]) {
    await writeAtomically(path.join(dir, m.name, 'index.m3u8'), writeVodMediaPlaylist(m.playlist));
  }

  const videoInfo = info.filter((r) => r.kind === 'video');
  const master: MasterPlaylist =
    videoInfo.length > 0
      ? {
          ...(audioRendition
            ? { audio: { groupId: AUDIO_GROUP, name: 'Audio', uri: `${AUDIO_RENDITION}/index.m3u8` } }
            : {}),
          // A variant's BANDWIDTH covers everything played with it, so the audio rendition's too.
          variants: videoInfo.map((v) => ({
            uri: v.playlist,
            bandwidth: v.peakBitrate + audioPeak,
            averageBandwidth: v.averageBitrate + audioAverage,
            codecs: [v.codecs, ...(audioRendition ? [AAC_LC_CODEC] : [])].join(','),
            ...(v.width && v.height ? { width: v.width, height: v.height } : {}),
            ...(v.frameRate ? { frameRate: v.frameRate } : {}),
          })),
        }
      : {
          variants: [
            {
              uri: `${AUDIO_RENDITION}/index.m3u8`,
              bandwidth: audioPeak,
              averageBandwidth: audioAverage,
              codecs: AAC_LC_CODEC,
            },
          ],
        };
  await writeAtomically(path.join(dir, MASTER_PLAYLIST), writeMasterPlaylist(master));
  return info;
}
