import Hls from 'hls.js';

/** What /play/<asset>/source.json answers. */
interface PlaySource {
  title: string;
  status: string;
  master: string | null;
  poster: string | null;
  complete: boolean;
}

export interface Player {
  destroy(): void;
}

/**
 * Attaches HLS to a <video>: hls.js wherever MSE exists (so quality switching and our error
 * handling work the same everywhere), the browser's own HLS otherwise (iPhone Safari).
 */
export function createPlayer(
  video: HTMLVideoElement,
  source: PlaySource,
  onState: (text: string) => void,
): Player {
  if (source.poster) video.poster = source.poster;
  if (!source.master) {
    onState('This recording is still being prepared. The page will refresh by itself.');
    return { destroy() {} };
  }
  if (Hls.isSupported()) {
    // A still-encoding asset is an EVENT playlist: start at the beginning, not the live edge.
    const hls = new Hls({ startPosition: 0 });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (data.fatal) onState('Playback failed. Reload the page to try again.');
    });
    hls.loadSource(source.master);
    hls.attachMedia(video);
    (window as unknown as { hls: Hls }).hls = hls;
    return { destroy: () => hls.destroy() };
  }
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source.master;
    return { destroy: () => video.removeAttribute('src') };
  }
  onState('This browser cannot play HLS video.');
  return { destroy() {} };
}

async function boot(): Promise<void> {
  const video = document.querySelector<HTMLVideoElement>('video')!;
  const state = document.querySelector<HTMLElement>('#state')!;
  const title = document.querySelector<HTMLElement>('h1')!;
  const response = await fetch(`${location.pathname.replace(/\/$/, '')}/source.json`);
  if (!response.ok) {
    state.textContent = response.status === 404 ? 'Not found' : 'Something went wrong. Reload to try again.';
    return;
  }
  const source = (await response.json()) as PlaySource;
  title.textContent = source.title;
  createPlayer(video, source, (text) => (state.textContent = text));
  if (!source.master) setTimeout(() => location.reload(), 5000);
}

void boot();
