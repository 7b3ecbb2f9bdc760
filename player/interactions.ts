import type { MessageKey } from '../src/i18n/catalogues/en.ts';
import type { Translator } from '../src/i18n/format.ts';
import { el, webUrl, type Player } from './player.ts';

/**
 * Timed calls-to-action, polls and chat of automated webinars, rendered over the player. They
 * arrive in the stream as EXT-X-DATERANGE tags (class com.onair.cta/poll/chat, data in
 * X-ONAIR-DATA) and are shown by the playhead's program date-time, so they stay in sync with the
 * picture for every viewer of a session and in the replay alike.
 */
interface CtaData {
  id: string;
  headline: string;
  buttonLabel: string;
  url: string;
}
interface PollData {
  id: string;
  question: string;
  options: string[];
}
interface ChatData {
  id: string;
  author: string;
  text: string;
}
interface PollResults {
  options: string[];
  votes: number[];
  yourVote: number | null;
}

interface Range {
  id: string;
  kind: 'cta' | 'poll' | 'chat';
  start: number;
  end: number | null;
  data: CtaData | PollData | ChatData;
}

export interface InteractionsHandle {
  /** Ids of what is on screen now (for tests and analytics). */
  visible(): string[];
  destroy(): void;
}

function decode(value: string | undefined): unknown {
  if (!value) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
}

export function attachInteractions(
  player: Player,
  root: HTMLElement,
  pageBase: string,
  { t }: Translator<MessageKey>,
): InteractionsHandle {
  const layer = el('div', { class: 'onair-overlays' });
  layer.setAttribute('aria-live', 'polite');
  const chat = el('section', { class: 'onair-chat' });
  chat.setAttribute('aria-label', t('interactions.chat'));
  chat.hidden = true;
  root.append(layer, chat);
  const shown = new Map<string, HTMLElement>();
  const chatted = new Set<string>();

  const post = (path: string, body?: unknown) =>
    fetch(`${pageBase}${path}`, {
      method: 'POST',
      headers: body ? { 'content-type': 'application/json' } : {},
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  function ranges(): Range[] {
    const hls = player.hls;
    if (!hls) return [];
    const level = hls.levels[hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel] ?? hls.levels[0];
    const dateRanges = level?.details?.dateRanges ?? {};
    const out: Range[] = [];
    for (const dr of Object.values(dateRanges)) {
      if (!dr) continue;
      const kind =
        dr.class === 'com.onair.cta'
          ? 'cta'
          : dr.class === 'com.onair.poll'
            ? 'poll'
            : dr.class === 'com.onair.chat'
              ? 'chat'
              : undefined;
      const data = decode(String(dr.attr['X-ONAIR-DATA'] ?? '')) as Range['data'] | undefined;
      if (!kind || !data) continue;
      out.push({ id: dr.id, kind, start: dr.startDate.getTime(), end: dr.endDate?.getTime() ?? null, data });
    }
    return out;
  }

  function renderPollResults(box: HTMLElement, results: PollResults): void {
    const total = results.votes.reduce((a, b) => a + b, 0) || 1;
    const list = el('ul', { class: 'poll-results' });
    results.options.forEach((option, i) => {
      const item = el(
        'li',
        results.yourVote === i ? { class: 'mine' } : {},
        t('interactions.pollResult', { option, percent: Math.round((results.votes[i]! / total) * 100) }),
      );
      list.append(item);
    });
    box.querySelector('.poll-options')?.replaceWith(list);
  }

  function show(range: Range): HTMLElement {
    const box = el('div', { class: `onair-${range.kind}` });
    box.dataset.id = range.id;
    if (range.kind === 'cta') {
      const d = range.data as CtaData;
      const link = el('a', { class: 'cta-button' }, d.buttonLabel);
      link.href = webUrl(d.url) ?? '#';
      link.target = '_blank';
      link.rel = 'noopener';
      link.addEventListener('click', () => void post(`/cta/${encodeURIComponent(d.id)}/click`));
      box.append(el('p', { class: 'cta-headline' }, d.headline), link);
    } else {
      const d = range.data as PollData;
      const options = el('div', { class: 'poll-options' });
      d.options.forEach((option, i) => {
        const button = el('button', {}, option);
        button.type = 'button';
        button.addEventListener('click', () => {
          void post(`/polls/${encodeURIComponent(d.id)}/vote`, { option: i }).then(async (response) => {
            if (response.ok) renderPollResults(box, (await response.json()) as PollResults);
            else {
              const error = ((await response.json()) as { error?: { message?: string } }).error;
              box.append(el('p', { class: 'poll-note' }, error?.message ?? t('interactions.voteFailed')));
            }
          });
        });
        options.append(button);
      });
      box.append(el('p', { class: 'poll-question' }, d.question), options);
      void fetch(`${pageBase}/polls/${encodeURIComponent(d.id)}`).then(async (r) => {
        if (!r.ok) return;
        const results = (await r.json()) as PollResults;
        if (results.yourVote !== null) renderPollResults(box, results);
      });
    }
    layer.append(box);
    return box;
  }

  const timer = setInterval(() => {
    const now = player.hls?.playingDate?.getTime();
    if (now === undefined) return;
    const active = new Set<string>();
    for (const range of ranges()) {
      if (range.kind === 'chat') {
        if (range.start <= now && !chatted.has(range.id)) {
          chatted.add(range.id);
          const d = range.data as ChatData;
          const line = el('p', { class: 'chat-line' });
          line.append(el('strong', {}, `${d.author}: `), d.text);
          chat.append(line);
          chat.hidden = false;
          chat.scrollTop = chat.scrollHeight;
        }
        continue;
      }
      if (range.start <= now && (range.end === null || now < range.end)) {
        active.add(range.id);
        if (!shown.has(range.id)) shown.set(range.id, show(range));
      }
    }
    for (const [id, box] of shown) {
      if (!active.has(id)) {
        box.remove();
        shown.delete(id);
      }
    }
  }, 100);

  return {
    visible: () => [...shown.keys()],
    destroy() {
      clearInterval(timer);
      layer.remove();
      chat.remove();
    },
  };
}

export const INTERACTIONS_CSS = `
.onair-player { position: relative; }
.onair-overlays { position: absolute; right: 12px; bottom: 64px; display: grid; gap: 8px; max-width: min(360px, 80%); z-index: 2; }
.onair-cta, .onair-poll { background: rgba(255,255,255,0.96); color: #111; border-radius: 8px; padding: 12px 14px; box-shadow: 0 4px 16px rgba(0,0,0,0.35); }
.onair-cta .cta-headline, .onair-poll .poll-question { margin: 0 0 8px; font-weight: 600; }
.onair-cta .cta-button { display: inline-block; background: #1a56db; color: #fff; padding: 8px 14px; border-radius: 6px; text-decoration: none; }
.onair-poll .poll-options { display: grid; gap: 6px; }
.onair-poll button { padding: 6px 10px; font: inherit; }
.onair-poll .poll-results { margin: 0; padding-left: 18px; }
.onair-poll .mine { font-weight: 700; }
.onair-chat { background: #111; color: #eee; max-height: 180px; overflow-y: auto; padding: 8px 12px; font-size: 14px; }
.onair-chat .chat-line { margin: 4px 0; }
`;
