import { describe, expect, it } from 'vitest';
import { InteractionsSchema } from '../../src/automated/interactions.ts';
import { placeTiles, writeStoryboardVtt } from '../../pipelines/storyboard.ts';
import {
  checkDraft,
  draftOf,
  formatTime,
  newItemId,
  parseTime,
  placeDraft,
  removeItem,
  sameInteractions,
  serverProblemOf,
  spreadTiles,
  timelineItems,
  type Draft,
  type Interactions,
} from '../../player/timeline-model.ts';
import { parseStoryboardVtt, tileAt } from '../../player/storyboard.ts';

const VTT_URL = 'https://cdn.example/s/tok/123/a/as_1/rev_1/storyboard.vtt';

describe('storyboard WebVTT into tiles', () => {
  const layout = { tileWidth: 160, tileHeight: 90, columns: 2, rows: 2 };

  it('reads what pipelines/storyboard.ts writes, sheets resolved next to the signed VTT', () => {
    const vtt = writeStoryboardVtt(placeTiles(5, layout), layout, 2, 9, (n) => `storyboard-${n}.jpg`);
    const tiles = parseStoryboardVtt(vtt, VTT_URL);
    expect(tiles).toHaveLength(5);
    expect(tiles[3]).toEqual({
      start: 6,
      end: 8,
      url: 'https://cdn.example/s/tok/123/a/as_1/rev_1/storyboard-0.jpg',
      x: 160,
      y: 90,
      w: 160,
      h: 90,
    });
    // The fifth still starts the second sheet and is clipped to the duration.
    expect(tiles[4]).toMatchObject({ start: 8, end: 9, x: 0, y: 0 });
    expect(tiles[4]!.url).toMatch(/storyboard-1\.jpg$/);
  });

  it('takes cue ids, CRLF, hour-less times and pixel: fragments; skips cues without a region', () => {
    const vtt = [
      'WEBVTT',
      '',
      'one',
      '00:02.000 --> 00:04.000 line:0',
      'https://other.example/s.jpg#xywh=pixel:10,20,30,40',
      '',
      '00:00.000 --> 00:02.000',
      'sheet.jpg#xywh=0,0,30,40',
      '',
      '00:04.000 --> 00:06.000',
      'no-fragment.jpg',
    ].join('\r\n');
    const tiles = parseStoryboardVtt(vtt, VTT_URL);
    expect(tiles.map((t) => [t.start, t.end, t.x, t.y])).toEqual([
      [0, 2, 0, 0],
      [2, 4, 10, 20],
    ]);
    expect(tiles[1]!.url).toBe('https://other.example/s.jpg');
  });

  it('finds nothing in what is not WebVTT', () => {
    expect(parseStoryboardVtt('<html>expired</html>', VTT_URL)).toEqual([]);
  });

  it('picks the still at a time and spreads stills along the recording', () => {
    const tiles = parseStoryboardVtt(
      writeStoryboardVtt(placeTiles(10, layout), layout, 2, 20, () => 's.jpg'),
      VTT_URL,
    );
    expect(tileAt(tiles, 0)!.start).toBe(0);
    expect(tileAt(tiles, 7.9)!.start).toBe(6);
    expect(tileAt(tiles, 8)!.start).toBe(8);
    expect(tileAt(tiles, 500)!.start).toBe(18);
    expect(spreadTiles(tiles, 4, 20).map((t) => t.start)).toEqual([2, 6, 12, 16]);
    expect(spreadTiles([], 4, 20)).toEqual([]);
  });
});

describe('m:ss times', () => {
  it('formats minutes and seconds, hours past an hour, tenths only when there are some', () => {
    expect(formatTime(0)).toBe('0:00');
    expect(formatTime(8)).toBe('0:08');
    expect(formatTime(8.5)).toBe('0:08.5');
    expect(formatTime(8.04)).toBe('0:08');
    expect(formatTime(59.96)).toBe('1:00');
    expect(formatTime(90)).toBe('1:30');
    expect(formatTime(3723)).toBe('1:02:03');
    expect(formatTime(Number.NaN)).toBe('0:00');
  });

  it('parses what people type, and refuses what is not a time', () => {
    expect(parseTime('8')).toBe(8);
    expect(parseTime(' 0:08 ')).toBe(8);
    expect(parseTime('0:08.5')).toBe(8.5);
    expect(parseTime('0:08,25')).toBe(8.3);
    expect(parseTime('1:30')).toBe(90);
    expect(parseTime('90')).toBe(90);
    expect(parseTime('1:02:03')).toBe(3723);
    for (const bad of ['', '1:60', '1:60:00', 'a', '-3', '1::2', '1:2:3:4', '0:08s'])
      expect(parseTime(bad)).toBeUndefined();
  });

  it('round-trips', () => {
    for (const t of [0, 8, 8.5, 61.2, 3599.9, 3600, 86399]) expect(parseTime(formatTime(t))).toBe(t);
  });
});

const cta = (id: string, start: number, end = start + 10) => ({
  id,
  headline: `Headline ${id}`,
  buttonLabel: 'Go',
  url: 'https://example.com/',
  start,
  end,
});
const sample: Interactions = {
  ctas: [cta('late', 30), cta('early', 5)],
  polls: [{ id: 'size', question: 'Team size?', options: ['1-10', '11+'], start: 5, end: 20 }],
  chat: [{ id: 'hi', at: 1, author: 'Host', text: 'Welcome!' }],
};

describe('placed interactions', () => {
  it('list by time, then CTAs, polls, chat', () => {
    expect(timelineItems(sample).map((i) => `${i.kind}:${i.id}@${i.at}`)).toEqual([
      'chat:hi@1',
      'cta:early@5',
      'poll:size@5',
      'cta:late@30',
    ]);
    expect(timelineItems(sample)[0]).toMatchObject({ end: null, summary: 'Host: Welcome!' });
  });

  it('a placed draft is a schema item: end from the seconds shown, text trimmed, empty options dropped', () => {
    const draft: Draft = {
      kind: 'poll',
      at: 12.34,
      seconds: 30,
      question: ' Which plan? ',
      options: ['Basic', ' Pro ', '', ''],
    };
    const next = placeDraft(sample, draft, 'poll-abc');
    expect(next.polls.map((p) => p.id)).toEqual(['size', 'poll-abc']);
    expect(next.polls[1]).toEqual({
      id: 'poll-abc',
      question: 'Which plan?',
      options: ['Basic', 'Pro'],
      start: 12.3,
      end: 42.3,
    });
    // What the panel saves is what the API takes.
    expect(InteractionsSchema.safeParse(next).success).toBe(true);
  });

  it('editing keeps the id (clicks and votes are by id) and moves the item in time order', () => {
    const d = draftOf(sample, 'cta', 'early') as Extract<Draft, { kind: 'cta' }>;
    expect(d).toEqual({
      kind: 'cta',
      at: 5,
      seconds: 10,
      headline: 'Headline early',
      buttonLabel: 'Go',
      url: 'https://example.com/',
    });
    const next = placeDraft(sample, { ...d, at: 40, headline: 'Later now' }, 'early');
    expect(next.ctas.map((c) => [c.id, c.start, c.end, c.headline])).toEqual([
      ['late', 30, 40, 'Headline late'],
      ['early', 40, 50, 'Later now'],
    ]);
    expect(draftOf(sample, 'chat', 'hi')).toEqual({ kind: 'chat', at: 1, author: 'Host', text: 'Welcome!' });
    expect(draftOf(sample, 'poll', 'nope')).toBeUndefined();
  });

  it('deletes one item of one kind', () => {
    const next = removeItem(sample, 'cta', 'early');
    expect(next.ctas.map((c) => c.id)).toEqual(['late']);
    expect(next.polls).toBe(sample.polls);
    expect(sameInteractions(next, sample)).toBe(false);
    expect(sameInteractions({ ...sample, ctas: [...sample.ctas].reverse() }, sample)).toBe(true);
  });

  it('new ids are unused and valid for the schema', () => {
    const values = ['taken', 'x!y', 'fresh'];
    const id = newItemId('cta', new Set(['cta-taken']), () => values.shift()!);
    expect(id).toBe('cta-xy');
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
  });
});

describe('form checks', () => {
  const good: Draft = {
    kind: 'cta',
    at: 8,
    seconds: 6,
    headline: 'Book a demo',
    buttonLabel: 'Book',
    url: 'https://example.com/demo',
  };

  it('passes a good item', () => {
    expect(checkDraft(good, 20)).toEqual([]);
    expect(checkDraft({ kind: 'chat', at: 20, author: 'Host', text: 'Bye' }, 20)).toEqual([]);
  });

  it('names the field of each problem', () => {
    const fields = (d: Draft) => checkDraft(d, 20).map((p) => p.field);
    expect(fields({ ...good, url: 'http://example.com' })).toEqual(['url']);
    expect(fields({ ...good, url: 'javascript:alert(1)' })).toEqual(['url']);
    expect(fields({ ...good, at: 21 })).toEqual(['at']);
    expect(fields({ ...good, at: Number.NaN })).toEqual(['at']);
    expect(fields({ ...good, seconds: 0, headline: ' ', buttonLabel: 'x'.repeat(41) })).toEqual([
      'seconds',
      'headline',
      'buttonLabel',
    ]);
    const poll: Draft = { kind: 'poll', at: 0, seconds: 5, question: 'Q?', options: ['a', '', ''] };
    expect(fields(poll)).toEqual(['options']);
    expect(fields({ ...poll, options: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] })).toEqual(['options']);
    expect(fields({ kind: 'chat', at: 0, author: '', text: '' })).toEqual(['author', 'text']);
  });

  it('agrees with the schema on what it passes', () => {
    const next = placeDraft({ ctas: [], polls: [], chat: [] }, good, 'cta-1');
    expect(InteractionsSchema.safeParse(next).success).toBe(true);
  });
});

describe("the server's 400", () => {
  it('points at the item and field it names, in the order sent', () => {
    expect(serverProblemOf('interactions.ctas.1.url', sample)).toEqual({
      kind: 'cta',
      id: 'early',
      field: 'url',
    });
    expect(serverProblemOf('interactions.polls.0.options.3', sample)).toEqual({
      kind: 'poll',
      id: 'size',
      field: 'options',
    });
    expect(serverProblemOf('interactions.chat.0', sample)).toEqual({ kind: 'chat', id: 'hi' });
    expect(serverProblemOf('interactions.ctas.0.end', sample)).toMatchObject({ field: 'seconds' });
    expect(serverProblemOf('interactions.ctas', sample)).toEqual({ kind: 'cta' });
    expect(serverProblemOf('interactions', sample)).toEqual({});
    expect(serverProblemOf('title', sample)).toBeUndefined();
  });
});
