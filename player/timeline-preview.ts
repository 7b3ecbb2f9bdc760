/**
 * The app's player of a recording: the interactions timeline's preview (player/admin-timeline.ts)
 * and a recording's page (player/admin-asset.ts). A bundle of its own that those pages load on the
 * first "Play": hls.js is nearly all of its weight, and the rest of them needs none of it.
 */
import Hls from 'hls.js';

export interface Preview {
  /** Shows `seconds` of the recording; before the media is loaded it applies once it is. */
  seek(seconds: number): void;
  destroy(): void;
}

/** The recording through its signed master playlist: hls.js where MSE exists, the browser's own HLS elsewhere. */
export function createPreview(
  video: HTMLVideoElement,
  master: string,
  onProblem: (text: string) => void,
): Preview {
  let pending: number | undefined;
  video.addEventListener('loadedmetadata', () => {
    if (pending !== undefined) video.currentTime = pending;
    pending = undefined;
  });
  const seek = (seconds: number) => {
    if (video.readyState >= HTMLMediaElement.HAVE_METADATA) video.currentTime = seconds;
    else pending = seconds;
  };
  if (Hls.isSupported()) {
    // The rung that fits the small player, and little buffered ahead: it is for finding a moment.
    const hls = new Hls({ capLevelToPlayerSize: true, maxBufferLength: 8, maxMaxBufferLength: 16 });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      hls.destroy();
      onProblem(
        'The preview cannot play (reload the page if it was open for hours: its link expires); the stills still show the picture.',
      );
    });
    hls.loadSource(master);
    hls.attachMedia(video);
    return { seek, destroy: () => hls.destroy() };
  }
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = master;
    return { seek, destroy: () => video.removeAttribute('src') };
  }
  onProblem('This browser cannot play the preview; the stills show the picture.');
  return { seek: () => undefined, destroy: () => undefined };
}
