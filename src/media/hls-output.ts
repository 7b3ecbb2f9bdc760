import {
  AAC_LC_CODEC,
  averageBitrate,
  avcCodecFromInit,
  mapUriAt,
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
import type { Storage } from '../storage/storage.ts';

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
const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';
/** Storage look-ups in flight at once while measuring segments (S3 answers each in a few ms). */
const STAT_CONCURRENCY = 16;

function renditionNames(ladder: Ladder | undefined, audio: boolean): string[] {
  return [...(ladder?.rungs.map((r) => r.name) ?? []), ...(audio ? [AUDIO_RENDITION] : [])];
}

/** The exact H.264 codec string (RFC 6381) of a rendition, from the start of its init section. */
function h264CodecOf(name: string, init: Uint8Array): string {
  const codec = avcCodecFromInit(init);
  if (!codec) throw new Error(`rendition ${name} has no H.264 configuration in its init segment`);
  return codec;
}

function audioMedia(ladder: Ladder | undefined, audio: boolean): Pick<MasterPlaylist, 'audio'> {
  return audio && ladder
    ? { audio: { groupId: AUDIO_GROUP, name: 'Audio', uri: `${AUDIO_RENDITION}/index.m3u8` } }
    : {};
}

/**
 * The master playlist of output still being written (a VOD encode, a live stream): bandwidths are
 * estimated from the ladder's caps, codec strings exact from each video rendition's init section.
 * `initHeads` maps a video rendition's name to the first bytes of its init section (the sink's
 * `StoredMediaFile.head`); audio needs none (always AAC-LC). `startOffset` 0 makes players start a
 * still-growing asset at its beginning; undefined leaves them at the live edge.
 * Pure. Undefined while some video rendition has no init head yet. The caller stores it only once
 * every rendition's playlist is stored (a master must not name a missing playlist).
 */
export function previewMasterText(
  ladder: Ladder | undefined,
  audio: boolean,
  initHeads: ReadonlyMap<string, Buffer>,
  startOffset: number | undefined,
): string | undefined {
  const codecs: string[] = [];
  for (const rung of ladder?.rungs ?? []) {
    const head = initHeads.get(rung.name);
    if (!head) return undefined;
    codecs.push(h264CodecOf(rung.name, head));
  }
  const master: MasterPlaylist = {
    ...(startOffset !== undefined ? { startOffset } : {}),
    ...audioMedia(ladder, audio),
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
  return writeMasterPlaylist(master);
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

interface MeasuredRendition {
  readonly name: string;
  readonly playlist: MediaPlaylist;
  readonly sized: SizedSegment[];
  readonly codec: string;
}

/**
 * After the encode: store each rendition's complete playlist as VOD, measure real peak and average
 * bit rates from the segment sizes, and store the master playlist last: the output is complete the
 * moment the master names it.
 *
 * `playlists` maps each rendition's name to its complete playlist, every file of which is stored
 * (URIs relative to `<prefix>/<rendition>/`, period folders and a per-period EXT-X-MAP allowed).
 * Segment sizes come from `knownSizes` (keyed `<rendition>/<uri>`, what the sink reported) or else
 * from `storage.stat`; each video rendition's codec string from its first init section.
 */
export async function finalizeHls(
  storage: Storage,
  prefix: string,
  ladder: Ladder | undefined,
  audio: boolean,
  playlists: ReadonlyMap<string, MediaPlaylist>,
  knownSizes: ReadonlyMap<string, number> = new Map(),
): Promise<RenditionInfo[]> {
  const names = renditionNames(ladder, audio);
  const listed = names.map((name) => {
    const playlist = playlists.get(name);
    if (!playlist) throw new Error(`rendition ${name} has no playlist`);
    if (playlist.segments.length === 0) throw new Error(`rendition ${name} has no segments`);
    return { name, playlist };
  });

  // Every segment size, known or looked up (a bounded number of look-ups in flight).
  const unknown = listed.flatMap(({ name, playlist }) =>
    playlist.segments.map((s) => `${name}/${s.uri}`).filter((path) => !knownSizes.has(path)),
  );
  const looked = await mapLimit(unknown, STAT_CONCURRENCY, async (path) => {
    const object = await storage.stat(`${prefix}/${path}`);
    if (!object) throw new Error(`segment ${path} is not in storage`);
    return [path, object.size] as const;
  });
  const sizes = new Map([...knownSizes, ...looked]);

  const measured: MeasuredRendition[] = await Promise.all(
    listed.map(async ({ name, playlist }) => {
      const sized = playlist.segments.map((s) => ({
        duration: s.duration,
        bytes: sizes.get(`${name}/${s.uri}`)!,
      }));
      if (name === AUDIO_RENDITION) return { name, playlist, sized, codec: AAC_LC_CODEC };
      const init = mapUriAt(playlist, 0);
      if (!init) throw new Error(`rendition ${name} has no init segment`);
      const bytes = await storage.readBytes(`${prefix}/${name}/${init}`);
      if (!bytes) throw new Error(`the init segment of rendition ${name} is not in storage`);
      return { name, playlist, sized, codec: h264CodecOf(name, bytes) };
    }),
  );
  const videos = measured.filter((m) => m.name !== AUDIO_RENDITION);
  const audioRendition = measured.find((m) => m.name === AUDIO_RENDITION);
  const target = targetDurationOf(measured.flatMap((m) => m.playlist.segments));

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

  // The media playlists first (their segments are all stored), the master that names them last.
  await Promise.all(
    measured.map((m) =>
      storage.putBytes(`${prefix}/${m.name}/index.m3u8`, writeVodMediaPlaylist(m.playlist), {
        contentType: PLAYLIST_TYPE,
      }),
    ),
  );

  const videoInfo = info.filter((r) => r.kind === 'video');
  const master: MasterPlaylist =
    videoInfo.length > 0
      ? {
          ...audioMedia(ladder, Boolean(audioRendition)),
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
  await storage.putBytes(`${prefix}/${MASTER_PLAYLIST}`, writeMasterPlaylist(master), {
    contentType: PLAYLIST_TYPE,
  });
  return info;
}
