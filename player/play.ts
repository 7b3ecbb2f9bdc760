import { createPlayer } from './player.ts';
import { injectStyles, PLAYER_CSS } from './player.css.ts';

/** What /play/<asset>/source.json answers (the marketer's preview of an asset). */
interface PlaySource {
  title: string;
  status: string;
  master: string | null;
  poster: string | null;
  storyboard: string | null;
  complete: boolean;
}

async function boot(): Promise<void> {
  injectStyles(PLAYER_CSS);
  const root = document.querySelector<HTMLElement>('#player')!;
  const state = document.querySelector<HTMLElement>('#state')!;
  const title = document.querySelector<HTMLElement>('h1')!;
  const response = await fetch(`${location.pathname.replace(/\/$/, '')}/source.json${location.search}`);
  if (!response.ok) {
    state.textContent =
      response.status === 404
        ? 'Not found'
        : response.status === 403
          ? 'This preview link has expired. Get a new one from the admin page.'
          : 'Something went wrong. Reload to try again.';
    return;
  }
  const source = (await response.json()) as PlaySource;
  title.textContent = source.title;
  if (!source.master) {
    state.textContent = 'This recording is still being prepared. The page will refresh by itself.';
    setTimeout(() => location.reload(), 5000);
    return;
  }
  const player = createPlayer(
    root,
    { ...source, master: source.master },
    (text) => (state.textContent = text),
  );
  (window as unknown as { onairPlayer: unknown }).onairPlayer = player;
}

void boot();
