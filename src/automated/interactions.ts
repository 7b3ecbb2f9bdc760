import { z } from 'zod';
import type { TimedMarker } from '../../pipelines/simulive.ts';
import { HttpUrl, SafeText } from '../validation.ts';

/** Timed interactions of an automated webinar, in media seconds (the same in every session and the replay). */
const Id = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'ids are letters, digits, - and _ (at most 40)');
const Seconds = z
  .number()
  .min(0)
  .max(24 * 3600);

export const CtaSchema = z
  .object({
    id: Id,
    headline: SafeText(120).pipe(z.string().min(1)),
    buttonLabel: SafeText(40).pipe(z.string().min(1)),
    url: HttpUrl,
    start: Seconds,
    end: Seconds,
  })
  .refine((c) => c.end > c.start, { message: 'a call-to-action must end after it starts' });

export const PollSchema = z
  .object({
    id: Id,
    question: SafeText(200).pipe(z.string().min(1)),
    options: z
      .array(SafeText(80).pipe(z.string().min(1)))
      .min(2)
      .max(6),
    start: Seconds,
    end: Seconds,
  })
  .refine((p) => p.end > p.start, { message: 'a poll must end after it starts' });

export const ChatSchema = z.object({
  id: Id,
  at: Seconds,
  author: SafeText(60).pipe(z.string().min(1)),
  text: SafeText(500).pipe(z.string().min(1)),
});

export const InteractionsSchema = z
  .object({
    ctas: z.array(CtaSchema).max(50).default([]),
    polls: z.array(PollSchema).max(20).default([]),
    chat: z.array(ChatSchema).max(500).default([]),
  })
  .refine(
    (i) => {
      const ids = [...i.ctas, ...i.polls, ...i.chat].map((x) => x.id);
      return new Set(ids).size === ids.length;
    },
    { message: 'interaction ids must be unique within the event' },
  );

export type Interactions = z.infer<typeof InteractionsSchema>;
export const NO_INTERACTIONS: Interactions = { ctas: [], polls: [], chat: [] };

export const CTA_CLASS = 'com.onair.cta';
export const POLL_CLASS = 'com.onair.poll';
export const CHAT_CLASS = 'com.onair.chat';

/** The EXT-X-DATERANGE markers that carry the interactions in the stream. */
export function markersOf(i: Interactions): TimedMarker[] {
  return [
    ...i.ctas.map((c) => ({
      id: `cta-${c.id}`,
      class: CTA_CLASS,
      start: c.start,
      end: c.end,
      data: { id: c.id, headline: c.headline, buttonLabel: c.buttonLabel, url: c.url },
    })),
    ...i.polls.map((p) => ({
      id: `poll-${p.id}`,
      class: POLL_CLASS,
      start: p.start,
      end: p.end,
      data: { id: p.id, question: p.question, options: p.options },
    })),
    ...i.chat.map((m) => ({
      id: `chat-${m.id}`,
      class: CHAT_CLASS,
      start: m.at,
      data: { id: m.id, author: m.author, text: m.text },
    })),
  ].sort((a, b) => a.start - b.start);
}
