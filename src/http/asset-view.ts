import type { SourceFacts } from '../../pipelines/source-facts.ts';
import { rationalValue } from '../../pipelines/rational.ts';
import type { AssetRow } from '../db/assets.ts';
import type { RenditionInfo } from '../media/hls-output.ts';
import { MASTER_PLAYLIST } from '../media/hls-output.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';

/** The API's JSON shape of an asset. Playback URLs are signed for the marketer (see PlaybackUrls). */
export function assetView(row: AssetRow, baseUrl: string, urls: PlaybackUrls) {
  const facts = row.source_json ? (JSON.parse(row.source_json) as SourceFacts) : undefined;
  const renditions = row.renditions_json ? (JSON.parse(row.renditions_json) as RenditionInfo[]) : [];
  const revision = row.status === 'ready' ? row.revision : row.preview_revision;
  const expires = urls.expiresAt();
  const media = (file: string) => urls.url(baseUrl, 'a', row.id, revision!, file, expires);
  const ready = row.status === 'ready';
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    stage: row.stage,
    progress: row.progress,
    error: row.error,
    attempts: row.attempts,
    durationSeconds: row.duration_seconds,
    source: {
      name: row.source_name,
      bytes: row.source_bytes,
      ...(facts
        ? {
            container: facts.container,
            bitRate: facts.bitRate ?? null,
            video: facts.video
              ? {
                  codec: facts.video.codec,
                  width: facts.video.width,
                  height: facts.video.height,
                  displayWidth: facts.video.displayWidth,
                  displayHeight: facts.video.displayHeight,
                  rotation: facts.video.rotation,
                  frameRate: Number(rationalValue(facts.video.frameRate).toFixed(3)),
                }
              : null,
            audio: facts.audio ?? null,
          }
        : {}),
    },
    renditions,
    playback: revision
      ? {
          /** While processing this is a growing EVENT playlist that already plays from the start. */
          complete: ready,
          master: media(MASTER_PLAYLIST),
          player: `${baseUrl}/play/${row.id}?t=${encodeURIComponent(urls.previewToken(row.id, expires))}`,
          poster: ready && row.has_poster ? media('poster.jpg') : null,
          posterWebp: ready && row.has_poster ? media('poster.webp') : null,
          storyboard: ready && row.has_storyboard ? media('storyboard.vtt') : null,
          expiresAt: new Date(expires * 1000).toISOString(),
        }
      : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    readyAt: row.ready_at,
  };
}

export type AssetView = ReturnType<typeof assetView>;
