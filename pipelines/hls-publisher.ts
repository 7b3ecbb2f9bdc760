import type { MediaPlaylist } from './hls-playlist.ts';

/**
 * The publisher's one rule: a playlist never names a file that is not stored yet (RFC 8216
 * 6.2.1: a server must make each segment available before the playlist that names it). ffmpeg
 * may send a playlist before the segment it just finished has reached storage, so what gets
 * published is the longest stored prefix: the init section and segments up to the first one still
 * missing. `isStored` takes a URI as the playlist writes it (relative to the playlist).
 * Returns undefined when nothing is publishable yet (no init section, or no segment stored).
 */
export function publishablePlaylist(
  playlist: MediaPlaylist,
  isStored: (uri: string) => boolean,
): MediaPlaylist | undefined {
  if (playlist.mapUri && !isStored(playlist.mapUri)) return undefined;
  let count = 0;
  for (const segment of playlist.segments) {
    if (!isStored(segment.uri) || (segment.mapUri !== undefined && !isStored(segment.mapUri))) break;
    count += 1;
  }
  if (count === 0) return undefined;
  if (count === playlist.segments.length) return playlist;
  // Cut short: more is coming, so it cannot be the end of the list yet.
  return { ...playlist, segments: playlist.segments.slice(0, count), ended: false };
}
