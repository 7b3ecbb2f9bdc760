import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkToken, signedPath, signValue, unsignValue } from '../../src/origin/tokens.ts';
import { formatWebinarId, newWebinarId, parseWebinarId } from '../../src/ids.ts';
import { csvField, toCsv } from '../../src/services/csv.ts';
import { dropOffCurve } from '../../src/services/analytics.ts';

const secret = 'test-secret-test-secret-test-secret';

describe('playback tokens', () => {
  const now = 1_800_000_000;
  const path = signedPath('e', '123456789', 'rev_x/master.m3u8', now + 60, secret);
  const [, , hash, expires] = path.split('/');

  it('use the nginx secure_link_md5 hash of "<expires><prefix> <secret>"', () => {
    const expected = crypto
      .createHash('md5')
      .update(`${now + 60}/e/123456789/ ${secret}`)
      .digest('base64url');
    expect(hash).toBe(expected);
    expect(path).toBe(`/s/${expected}/${now + 60}/e/123456789/rev_x/master.m3u8`);
  });

  it('open their own scope until they expire', () => {
    expect(checkToken(hash!, expires!, 'e', '123456789', secret, now)).toBe('ok');
    expect(checkToken(hash!, expires!, 'e', '123456789', secret, now + 61)).toBe('expired');
  });

  it('refuse another event, another secret, an altered hash or an altered expiry', () => {
    expect(checkToken(hash!, expires!, 'e', '987654321', secret, now)).toBe('invalid');
    expect(checkToken(hash!, expires!, 'a', '123456789', secret, now)).toBe('invalid');
    expect(checkToken(hash!, expires!, 'e', '123456789', 'another-secret-another-secret-xx', now)).toBe(
      'invalid',
    );
    const flipped = (hash![0] === 'A' ? 'B' : 'A') + hash!.slice(1);
    expect(checkToken(flipped, expires!, 'e', '123456789', secret, now)).toBe('invalid');
    expect(checkToken(hash!, String(now + 6000), 'e', '123456789', secret, now)).toBe('invalid');
    expect(checkToken('short', expires!, 'e', '123456789', secret, now)).toBe('invalid');
  });

  it('sign cookie values with HMAC and refuse tampering', () => {
    const signed = signValue('rg_abc|123', secret);
    expect(unsignValue(signed, secret)).toBe('rg_abc|123');
    expect(unsignValue(signed.replace('rg_abc', 'rg_abd'), secret)).toBeUndefined();
    expect(unsignValue('garbage', secret)).toBeUndefined();
  });
});

describe('webinar IDs', () => {
  it('are 9 random digits shown as 123-456-789 and typed with or without dashes', () => {
    const id = newWebinarId();
    expect(id).toMatch(/^[1-9]\d{8}$/);
    expect(formatWebinarId('123456789')).toBe('123-456-789');
    expect(parseWebinarId('123-456-789')).toBe('123456789');
    expect(parseWebinarId(' 123 456 789 ')).toBe('123456789');
    expect(parseWebinarId('12345678')).toBeUndefined();
    expect(parseWebinarId('abc-def-ghi')).toBeUndefined();
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes what needs quoting, doubles quotes and ends lines with CRLF', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['line\nbreak', null],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",\r\n');
  });

  it('keeps formula-looking cells as text', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField(-5)).toBe('-5');
  });
});

describe('dropOffCurve', () => {
  it('gives the share of viewers still watching at each tenth', () => {
    expect(dropOffCurve([100, 50, 10, 0], 100)).toEqual([
      1, 0.75, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25,
    ]);
    expect(dropOffCurve([], 100)).toHaveLength(11);
  });
});
