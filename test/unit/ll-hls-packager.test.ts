import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseInit, parseMoof, readBoxes } from '../../pipelines/fmp4.ts';
import {
  FragmentedMp4Packager,
  type PackagerEvent,
  type PartEvent,
  type SegmentEvent,
} from '../../pipelines/ll-hls-packager.ts';

const exec = promisify(execFile);

/** Fragmented MP4 as a live rung would be written to a pipe: lavfi picture, x264, fixed GOP. */
async function fragmented(opts: { seconds: number; gopFrames: number; audio?: boolean; video?: boolean }) {
  const args = ['-hide_banner', '-loglevel', 'error'];
  if (opts.video !== false) args.push('-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=30');
  if (opts.audio) args.push('-f', 'lavfi', '-i', 'sine=sample_rate=48000');
  args.push('-t', String(opts.seconds));
  if (opts.video !== false)
    args.push(
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(opts.gopFrames)],
      ...['-keyint_min', String(opts.gopFrames), '-sc_threshold', '0'],
    );
  if (opts.audio) args.push('-c:a', 'aac');
  args.push(
    ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
    ...['-frag_duration', '333333', 'pipe:1'],
  );
  const { stdout } = await exec('ffmpeg', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return new Uint8Array(stdout);
}

/** Feeds `bytes` in chunks of pseudo-random sizes (a pipe delivers whatever it has). */
function pack(bytes: Uint8Array, segmentSeconds: number, seed = 1): PackagerEvent[] {
  const packager = new FragmentedMp4Packager({ segmentSeconds });
  const events: PackagerEvent[] = [];
  let x = seed;
  for (let at = 0; at < bytes.length;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (x % 9000);
    events.push(...packager.push(bytes.subarray(at, at + size)));
    at += size;
  }
  events.push(...packager.end());
  expect(packager.gaps).toBe(0);
  return events;
}

const parts = (events: PackagerEvent[]) => events.filter((e): e is PartEvent => e.type === 'part');
const segments = (events: PackagerEvent[]) => events.filter((e): e is SegmentEvent => e.type === 'segment');

describe('fMP4 boxes', () => {
  let bytes: Uint8Array;
  beforeAll(async () => {
    bytes = await fragmented({ seconds: 2, gopFrames: 30, audio: true });
  });

  it('reads the top-level boxes of ffmpeg output: ftyp, moov, then moof + mdat pairs', () => {
    const { boxes, rest } = readBoxes(bytes);
    expect(rest).toBe(bytes.length);
    expect(boxes.slice(0, 2).map((b) => b.type)).toEqual(['ftyp', 'moov']);
    // ffmpeg ends even a pipe with an mfra (random access index), which LL-HLS does not need.
    expect(boxes.at(-1)!.type).toBe('mfra');
    const media = boxes.slice(2, -1).map((b) => b.type);
    expect(media.length % 2).toBe(0);
    for (let i = 0; i < media.length; i += 2) expect(media.slice(i, i + 2)).toEqual(['moof', 'mdat']);
  });

  it('stops before an incomplete box and refuses impossible sizes', () => {
    const moov = readBoxes(bytes).boxes[1]!;
    expect(readBoxes(bytes, 0, moov.end - 1).rest).toBe(moov.start);
    const bad = new Uint8Array([0, 0, 0, 4, 0x6d, 0x6f, 0x6f, 0x66]);
    expect(() => readBoxes(bad)).toThrow(/size 4/);
  });

  it("finds each track with its handler and timescale, and each fragment's decode time and keyframe", () => {
    const { boxes } = readBoxes(bytes);
    const tracks = parseInit(bytes.subarray(0, boxes[1]!.end));
    expect(tracks.map((t) => t.handler)).toEqual(['vide', 'soun']);
    expect(tracks[1]!.timescale).toBe(48000);
    const video = tracks[0]!;
    let next = 0;
    let keyframes = 0;
    for (const moof of boxes.filter((b) => b.type === 'moof')) {
      const run = parseMoof(bytes, moof).tracks.find((t) => t.trackId === video.id)!;
      // tfdt continuity: each fragment starts where the previous one ended.
      expect(run.baseDecodeTime).toBe(next);
      next += run.duration;
      if (run.independent) keyframes++;
    }
    expect(next / video.timescale).toBeCloseTo(2, 1);
    expect(keyframes).toBe(2); // a keyframe every second
  });
});

describe('the LL-HLS packager', () => {
  it('cuts 1 s GOPs into 1 s segments of three 1/3 s parts, the first independent', async () => {
    const bytes = await fragmented({ seconds: 4, gopFrames: 30 });
    const events = pack(bytes, 1);
    expect(events[0]!.type).toBe('init');
    const all = parts(events);
    for (const p of all) expect(p.duration).toBeCloseTo(1 / 3, 2);
    expect(all.filter((p) => p.independent).map((p) => p.index)).toEqual([0, 0, 0, 0]);
    const segs = segments(events);
    expect(segs.map((s) => s.msn)).toEqual([0, 1, 2, 3]);
    for (const s of segs) {
      expect(s.duration).toBeCloseTo(1, 2);
      expect(s.parts).toBe(3);
    }
    // Every part is announced before its segment closes, and the segment is exactly its parts.
    for (const s of segs) {
      const mine = all.filter((p) => p.msn === s.msn);
      expect(mine.map((p) => p.index)).toEqual([0, 1, 2]);
      expect(Buffer.from(s.bytes).equals(Buffer.concat(mine.map((p) => p.bytes)))).toBe(true);
      const closedAt = events.indexOf(s);
      for (const p of mine) expect(events.indexOf(p)).toBeLessThan(closedAt);
    }
    // init + segments reproduce the stream byte for byte (but its closing mfra).
    const init = events[0] as { bytes: Uint8Array };
    const mfra = readBoxes(bytes).boxes.at(-1)!;
    expect(
      Buffer.concat([init.bytes, ...segs.map((s) => s.bytes)]).equals(
        Buffer.from(bytes.subarray(0, mfra.start)),
      ),
    ).toBe(true);
  });

  it('gives the same events however the pipe splits the stream', async () => {
    const bytes = await fragmented({ seconds: 2, gopFrames: 30 });
    const summary = (events: PackagerEvent[]) =>
      events.map((e) =>
        e.type === 'init' ? 'init' : `${e.type}:${e.msn}:${e.type === 'part' ? e.index : e.parts}`,
      );
    const whole = new FragmentedMp4Packager({ segmentSeconds: 1 });
    const once = [...whole.push(bytes), ...whole.end()];
    expect(summary(pack(bytes, 1, 7))).toEqual(summary(once));
    expect(summary(pack(bytes, 1, 99))).toEqual(summary(once));
  });

  it("keeps parts short with an encoder's default 250-frame GOP, but can only cut segments at its keyframes", async () => {
    const bytes = await fragmented({ seconds: 10, gopFrames: 250 });
    const events = pack(bytes, 1);
    for (const p of parts(events)) expect(p.duration).toBeLessThanOrEqual(0.34);
    // One keyframe at 0 s and one at 8.33 s: two segments, whatever the target.
    expect(segments(events).map((s) => Math.round(s.duration * 100) / 100)).toEqual([8.33, 1.67]);
  });

  it('makes every part of an audio rendition independent, and cuts its segments on the grid of the target', async () => {
    const bytes = await fragmented({ seconds: 20, gopFrames: 30, audio: true, video: false });
    const events = pack(bytes, 1);
    expect(parts(events).every((p) => p.independent)).toBe(true);
    // AAC parts (1024-sample frames) never end on a whole second: each segment still starts at the
    // first part at or after n seconds, so the audio's segment n is video's segment n (no drift).
    const starts = segments(events).map((s) => s.decodeTime - segments(events)[0]!.decodeTime);
    expect(starts.length).toBeGreaterThanOrEqual(18);
    starts.forEach((start, n) => {
      expect(start).toBeGreaterThanOrEqual(n - 0.05);
      expect(start).toBeLessThan(n + 0.35);
    });
  });
});
