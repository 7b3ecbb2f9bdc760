import { describe, expect, it } from 'vitest';
import {
  formatUploadMetadata,
  httpDate,
  parseByteCount,
  parseUploadMetadata,
} from '../../src/http/tus-headers.ts';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('Upload-Metadata (tus 1.0.0 §Upload-Metadata)', () => {
  it('reads comma-separated "key base64" pairs, values as UTF-8', () => {
    const parsed = parseUploadMetadata(
      `filename ${b64('talk.mp4')},title ${b64('Ça va? 🎤')}, filetype ${b64('video/mp4')}`,
    );
    expect(parsed).toEqual({
      ok: true,
      value: new Map([
        ['filename', 'talk.mp4'],
        ['title', 'Ça va? 🎤'],
        ['filetype', 'video/mp4'],
      ]),
    });
  });

  it('takes a key without a value (and its space) as the empty string', () => {
    expect(parseUploadMetadata(`is_confidential,title ${b64('x')}`)).toEqual({
      ok: true,
      value: new Map([
        ['is_confidential', ''],
        ['title', 'x'],
      ]),
    });
  });

  it('reads no header, or an empty one, as no pairs', () => {
    expect(parseUploadMetadata(undefined)).toEqual({ ok: true, value: new Map() });
    expect(parseUploadMetadata('  ')).toEqual({ ok: true, value: new Map() });
  });

  it('is the inverse of formatUploadMetadata', () => {
    const pairs = { title: 'Quarterly update, Q3', filename: 'über talk.mov', empty: '' };
    const parsed = parseUploadMetadata(formatUploadMetadata(pairs));
    expect(parsed.ok && Object.fromEntries(parsed.value)).toEqual(pairs);
  });

  it.each([
    [`title ${b64('a')},title ${b64('b')}`, /twice/],
    [`title ${b64('a')},`, /empty key/],
    [`,title ${b64('a')}`, /empty key/],
    ['title not!base64', /not base64/],
    ['title YQ', /not base64/],
    ['title YWJj=', /not base64/],
    [`title ${b64('a')} extra`, /more than one space/],
    [`ti\u00e9tle ${b64('a')}`, /printable ASCII/],
    [`${'k'.repeat(65)} ${b64('a')}`, /printable ASCII/],
    [`title ${Buffer.from([0xff, 0xfe]).toString('base64')}`, /not UTF-8/],
    [`title ${b64('a\u0000b')}`, /NUL/],
    [Array.from({ length: 33 }, (_, i) => `k${i} ${b64('v')}`).join(','), /more than 32 pairs/],
    [`title ${'A'.repeat(9000)}`, /longer than/],
  ])('refuses %j', (header, problem) => {
    const parsed = parseUploadMetadata(header);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(problem);
  });
});

describe('Upload-Length and Upload-Offset', () => {
  it('are whole numbers of bytes in digits', () => {
    expect(parseByteCount(undefined)).toBeUndefined();
    expect(parseByteCount('0')).toEqual({ ok: true, value: 0 });
    expect(parseByteCount('21474836480')).toEqual({ ok: true, value: 21474836480 });
  });

  it.each(['', '-1', '+1', '1.5', '1e6', ' 10', '0x10', '12345678901234567', '9999999999999999'])(
    'refuses %j',
    (header) => {
      expect(parseByteCount(header)?.ok).toBe(false);
    },
  );
});

describe('Upload-Expires', () => {
  it('is an HTTP-date', () => {
    expect(httpDate('2026-11-25T09:00:00.000Z')).toBe('Wed, 25 Nov 2026 09:00:00 GMT');
  });
});
