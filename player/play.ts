import { createPlayer } from './player.ts';
import { injectStyles, PLAYER_CSS } from './player.css.ts';
import { loadPageText } from './i18n.ts';

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
  const [text, response] = await Promise.all([
    loadPageText(),
    fetch(`${location.pathname.replace(/\/$/, '')}/source.json${location.search}`),
  ]);
  const { t } = text;
  if (!response.ok) {
    state.textContent = t(
      response.status === 404 ? 'common.notFound' : response.status === 403 ? 'play.expired' : 'play.error',
    );
    return;
  }
  const source = (await response.json()) as PlaySource;
  title.textContent = source.title;
  if (!source.master) {
    state.textContent = t('play.preparing');
    setTimeout(() => location.reload(), 5000);
    return;
  }
  const player = createPlayer(
    root,
    { ...source, master: source.master },
    (message) => (state.textContent = message),
    text,
  );
  (window as unknown as { onairPlayer: unknown }).onairPlayer = player;
}

void boot();
