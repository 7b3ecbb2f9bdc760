/**
 * The pure part of the interactions timeline (player/admin-timeline.ts): stills spread along the
 * recording, `m:ss` times, and edits of an event's `interactions`. The panel edits the very JSON that
 * `PATCH /api/events/:id {interactions}` takes (the type is the schema's); the server's schema
 * stays the judge, the checks here only catch what a form can before a round trip.
 */
import type { Interactions } from '../src/automated/interactions.ts';
import { tileAt, type StoryboardTile } from './storyboard.ts';

export type { Interactions };
export type Cta = Interactions['ctas'][number];
export type Poll = Interactions['polls'][number];
export type ChatMessage = Interactions['chat'][number];
export type Kind = 'cta' | 'poll' | 'chat';

/** Where each kind lives in `interactions`. */
export const LIST_OF = { cta: 'ctas', poll: 'polls', chat: 'chat' } as const satisfies Record<
  Kind,
  keyof Interactions
>;
export const KIND_NAMES: Record<Kind, string> = {
  cta: 'Call-to-action',
  poll: 'Poll',
  chat: 'Chat message',
};

/** The schema's limits, repeated for form hints and `maxlength` (the server checks them anyway). */
export const LIMITS = {
  headline: 120,
  buttonLabel: 40,
  url: 2000,
  question: 200,
  option: 80,
  author: 60,
  text: 500,
  minOptions: 2,
  maxOptions: 6,
  maxSeconds: 24 * 3600,
} as const;

// ---------------------------------------------------------------- storyboard

/** `count` stills spread evenly along the recording: slot i shows the still at its middle. */
export function spreadTiles(
  tiles: readonly StoryboardTile[],
  count: number,
  durationSeconds: number,
): StoryboardTile[] {
  if (!tiles.length || count < 1 || !(durationSeconds > 0)) return [];
  return Array.from({ length: count }, (_, i) => tileAt(tiles, ((i + 0.5) * durationSeconds) / count)!);
}

// ---------------------------------------------------------------- time

/** Times are kept to a tenth of a second: finer than anyone places a call-to-action. */
export function roundTime(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}

/** `m:ss` (`h:mm:ss` past an hour), with tenths only when there are some: 0:08, 1:02:03, 0:08.5. */
export function formatTime(seconds: number): string {
  const tenths = Math.max(0, Math.round((Number.isFinite(seconds) ? seconds : 0) * 10));
  const whole = Math.floor(tenths / 10);
  const h = Math.floor(whole / 3600);
  const m = Math.floor(whole / 60) % 60;
  const s = whole % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  const fraction = tenths % 10 ? `.${tenths % 10}` : '';
  return `${h ? `${h}:${pad(m)}` : m}:${pad(s)}${fraction}`;
}

/**
 * What a person types for a time: `8`, `8.5`, `0:08`, `1:30`, `1:02:03`, `0:08.5`. Minutes and
 * seconds after a colon are below 60. Undefined for anything else.
 */
export function parseTime(text: string): number | undefined {
  const m = /^(?:(?:(\d+):)?(\d+):)?(\d+(?:[.,]\d+)?)$/.exec(text.trim());
  if (!m) return undefined;
  const hours = m[1] === undefined ? 0 : Number(m[1]);
  const minutes = m[2] === undefined ? 0 : Number(m[2]);
  const seconds = Number(m[3]!.replace(',', '.'));
  if (m[2] !== undefined && seconds >= 60) return undefined;
  if (m[1] !== undefined && minutes >= 60) return undefined;
  return roundTime(hours * 3600 + minutes * 60 + seconds);
}

// ---------------------------------------------------------------- items

/** One placed interaction, as the timeline and the list show it. */
export interface TimelineItem {
  kind: Kind;
  id: string;
  /** Seconds into the recording: `start` of a CTA or poll, `at` of a chat message. */
  at: number;
  /** Until when a CTA or poll shows; null for a chat message (it stays in the chat). */
  end: number | null;
  /** A line saying what it is: headline, question or "author: text". */
  summary: string;
}

/** The event's `interactions` as GET /api/events/:id gives them (absent lists are empty). */
export function interactionsFrom(value: unknown): Interactions {
  const v = (value ?? {}) as Partial<Interactions>;
  return { ctas: v.ctas ?? [], polls: v.polls ?? [], chat: v.chat ?? [] };
}

const KIND_ORDER: Record<Kind, number> = { cta: 0, poll: 1, chat: 2 };

/** Every interaction, by time (then CTAs, polls, chat, then id: a stable order for equal times). */
export function timelineItems(i: Interactions): TimelineItem[] {
  return [
    ...i.ctas.map((c) => ({ kind: 'cta' as const, id: c.id, at: c.start, end: c.end, summary: c.headline })),
    ...i.polls.map((p) => ({
      kind: 'poll' as const,
      id: p.id,
      at: p.start,
      end: p.end,
      summary: p.question,
    })),
    ...i.chat.map((m) => ({
      kind: 'chat' as const,
      id: m.id,
      at: m.at,
      end: null,
      summary: `${m.author}: ${m.text}`,
    })),
  ].sort((a, b) => a.at - b.at || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.id.localeCompare(b.id));
}

/** Each list in time order, as they are saved (the JSON reads in the order things happen). */
export function sortInteractions(i: Interactions): Interactions {
  const byTime = <T extends { start: number; id: string }>(a: T, b: T) =>
    a.start - b.start || a.id.localeCompare(b.id);
  return {
    ctas: [...i.ctas].sort(byTime),
    polls: [...i.polls].sort(byTime),
    chat: [...i.chat].sort((a, b) => a.at - b.at || a.id.localeCompare(b.id)),
  };
}

/** True when both say the same (list order aside). */
export function sameInteractions(a: Interactions, b: Interactions): boolean {
  return JSON.stringify(sortInteractions(a)) === JSON.stringify(sortInteractions(b));
}

/**
 * A new item's id: the kind and a random part, never one the event has. Not a counter: CTA clicks
 * and poll votes are recorded by id, so a new poll must not take a deleted one's id (and its votes).
 */
export function newItemId(kind: Kind, taken: ReadonlySet<string>, random: () => string): string {
  for (;;) {
    const id = `${kind}-${random()
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 12)}`;
    if (id.length > kind.length + 1 && !taken.has(id)) return id;
  }
}

export function idsOf(i: Interactions): Set<string> {
  return new Set([...i.ctas, ...i.polls, ...i.chat].map((x) => x.id));
}

// ---------------------------------------------------------------- the form

/** What the form holds: the schema's fields, with a CTA's or poll's `end` as seconds shown. */
export type Draft =
  | { kind: 'cta'; at: number; seconds: number; headline: string; buttonLabel: string; url: string }
  | { kind: 'poll'; at: number; seconds: number; question: string; options: string[] }
  | { kind: 'chat'; at: number; author: string; text: string };

export type DraftField =
  'at' | 'seconds' | 'headline' | 'buttonLabel' | 'url' | 'question' | 'options' | 'author' | 'text';

export interface DraftProblem {
  field: DraftField;
  message: string;
}

/** The item with this id, as the form shows it. */
export function draftOf(i: Interactions, kind: Kind, id: string): Draft | undefined {
  if (kind === 'cta') {
    const c = i.ctas.find((x) => x.id === id);
    return (
      c && {
        kind,
        at: c.start,
        seconds: roundTime(c.end - c.start),
        ...pick(c, 'headline', 'buttonLabel', 'url'),
      }
    );
  }
  if (kind === 'poll') {
    const p = i.polls.find((x) => x.id === id);
    return (
      p && {
        kind,
        at: p.start,
        seconds: roundTime(p.end - p.start),
        question: p.question,
        options: [...p.options],
      }
    );
  }
  const m = i.chat.find((x) => x.id === id);
  return m && { kind, at: m.at, author: m.author, text: m.text };
}

function pick<T, K extends keyof T>(value: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, value[k]])) as Pick<T, K>;
}

/**
 * What the form can tell before saving: filled in, within the recording, lengths, 2 to 6 poll
 * options, and links on https (a call-to-action sends viewers off the page: no plain http).
 */
export function checkDraft(d: Draft, durationSeconds: number | null): DraftProblem[] {
  const problems: DraftProblem[] = [];
  const text = (field: DraftField, value: string, max: number, what: string) => {
    if (!value.trim()) problems.push({ field, message: `${what} is required.` });
    else if (value.trim().length > max)
      problems.push({ field, message: `${what} is at most ${max} characters.` });
  };
  if (!Number.isFinite(d.at) || d.at < 0)
    problems.push({ field: 'at', message: 'Give a time such as 1:30.' });
  else if (durationSeconds && d.at > durationSeconds)
    problems.push({ field: 'at', message: `The recording is ${formatTime(durationSeconds)} long.` });
  if (d.kind !== 'chat') {
    if (!Number.isFinite(d.seconds) || d.seconds < 1)
      problems.push({ field: 'seconds', message: 'Show it for at least a second.' });
    else if (d.at + d.seconds > LIMITS.maxSeconds)
      problems.push({ field: 'seconds', message: 'It must end within 24 hours.' });
  }
  if (d.kind === 'cta') {
    text('headline', d.headline, LIMITS.headline, 'The headline');
    text('buttonLabel', d.buttonLabel, LIMITS.buttonLabel, 'The button label');
    if (!httpsUrl(d.url)) problems.push({ field: 'url', message: 'The link must be an https:// address.' });
  } else if (d.kind === 'poll') {
    text('question', d.question, LIMITS.question, 'The question');
    const options = d.options.map((o) => o.trim()).filter(Boolean);
    if (options.length < LIMITS.minOptions || options.length > LIMITS.maxOptions)
      problems.push({ field: 'options', message: 'A poll has 2 to 6 options.' });
    else if (options.some((o) => o.length > LIMITS.option))
      problems.push({ field: 'options', message: `Options are at most ${LIMITS.option} characters.` });
  } else {
    text('author', d.author, LIMITS.author, 'The author');
    text('text', d.text, LIMITS.text, 'The message');
  }
  return problems;
}

function httpsUrl(value: string): boolean {
  try {
    return new URL(value.trim()).protocol === 'https:';
  } catch {
    return false;
  }
}

/** The draft as an item of the schema, with this id. */
export function itemOf(d: Draft, id: string): Cta | Poll | ChatMessage {
  const at = roundTime(d.at);
  if (d.kind === 'cta')
    return {
      id,
      headline: d.headline.trim(),
      buttonLabel: d.buttonLabel.trim(),
      url: d.url.trim(),
      start: at,
      end: roundTime(at + d.seconds),
    };
  if (d.kind === 'poll')
    return {
      id,
      question: d.question.trim(),
      options: d.options.map((o) => o.trim()).filter(Boolean),
      start: at,
      end: roundTime(at + d.seconds),
    };
  return { id, at, author: d.author.trim(), text: d.text.trim() };
}

/** Adds the draft as item `id`, or replaces the item of that id (it keeps its id, so its clicks and votes). */
export function placeDraft(i: Interactions, d: Draft, id: string): Interactions {
  const without = removeItem(i, d.kind, id);
  const item = itemOf(d, id);
  if (d.kind === 'cta') return sortInteractions({ ...without, ctas: [...without.ctas, item as Cta] });
  if (d.kind === 'poll') return sortInteractions({ ...without, polls: [...without.polls, item as Poll] });
  return sortInteractions({ ...without, chat: [...without.chat, item as ChatMessage] });
}

export function removeItem(i: Interactions, kind: Kind, id: string): Interactions {
  return {
    ctas: kind === 'cta' ? i.ctas.filter((x) => x.id !== id) : i.ctas,
    polls: kind === 'poll' ? i.polls.filter((x) => x.id !== id) : i.polls,
    chat: kind === 'chat' ? i.chat.filter((x) => x.id !== id) : i.chat,
  };
}

// ---------------------------------------------------------------- the server's answer

export interface ServerProblem {
  kind?: Kind;
  /** The item it is about, when the field names one (`interactions.ctas.0.url`). */
  id?: string;
  field?: DraftField;
}

const FIELD_OF: Record<string, DraftField> = {
  start: 'at',
  at: 'at',
  end: 'seconds',
  headline: 'headline',
  buttonLabel: 'buttonLabel',
  url: 'url',
  question: 'question',
  options: 'options',
  author: 'author',
  text: 'text',
};

/**
 * Which item and field a 400's `details[].field` names, in the interactions that were sent:
 * `interactions.polls.1.options.2` is the second poll's options.
 */
export function serverProblemOf(field: string, sent: Interactions): ServerProblem | undefined {
  const [root, list, index, name] = field.split('.');
  if (root !== 'interactions') return undefined;
  const kind = (Object.keys(LIST_OF) as Kind[]).find((k) => LIST_OF[k] === list);
  if (!kind) return {};
  const item = index === undefined ? undefined : sent[LIST_OF[kind]][Number(index)];
  return {
    kind,
    ...(item ? { id: item.id } : {}),
    ...(name && FIELD_OF[name] ? { field: FIELD_OF[name] } : {}),
  };
}
