/** Building the app's panels from DOM calls (never HTML strings: names and headlines are viewers' and marketers' text). */
import type { createPreview } from './timeline-preview.ts';

/** An element with its properties set and its children appended. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** The message of an API error answer, for the panel's status line. */
export async function errorOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `Failed (${response.status}).`;
  } catch {
    return `Failed (${response.status}).`;
  }
}

/**
 * The app's player of a recording (timeline-preview.ts): a bundle of its own, hls.js nearly all of
 * its weight, loaded on the first "Play" of the page that needs it.
 */
export async function loadRecordingPlayer(): Promise<typeof createPreview> {
  const module = (await import(new URL('timeline-preview.js', import.meta.url).href)) as {
    createPreview: typeof createPreview;
  };
  return module.createPreview;
}

const DOTS = '•'.repeat(16);

/**
 * A secret shown as dots until asked for (stream keys, SRT URLs that carry one: presenters share
 * their screens), with a Show/Hide button; `value` is still what Copy buttons copy.
 */
export function hiddenSecret(
  term: string,
  value: string,
): { text: HTMLElement; toggle: HTMLButtonElement; reveal(): void } {
  const text = el('code', { textContent: DOTS });
  text.dataset.secret = 'hidden';
  const toggle = el('button', { type: 'button', textContent: 'Show' });
  toggle.setAttribute('aria-label', `Show the ${term.toLowerCase()}`);
  toggle.setAttribute('aria-pressed', 'false');
  const set = (shown: boolean) => {
    text.textContent = shown ? value : DOTS;
    text.dataset.secret = shown ? 'shown' : 'hidden';
    toggle.textContent = shown ? 'Hide' : 'Show';
    toggle.setAttribute('aria-pressed', String(shown));
  };
  toggle.addEventListener('click', () => set(text.dataset.secret === 'hidden'));
  return { text, toggle, reveal: () => set(true) };
}
