import { describe, expect, it } from 'vitest';
import { readBound, signBound } from '../../src/automated/links.ts';
import { redact } from '../../src/log.ts';
import { playbackKey } from '../../src/origin/tokens.ts';
import { csvField } from '../../src/services/csv.ts';
import { findBadText } from '../../src/http/input.ts';
import { isCleanText } from '../../src/validation.ts';

const SECRET = 'unit-secret-0123456789abcdef0123456789';
const EVENT = { account_id: 'acc_A', id: 'ev_1' };

describe('signed values are bound to purpose, event, account and expiry', () => {
  const token = signBound('access', EVENT, ['rg_1', 'owner'], SECRET, 2_000);
  it('reads back only for the same purpose, event and account, before expiry', () => {
    expect(readBound('access', token, EVENT, SECRET, 1_000)).toEqual(['rg_1', 'owner']);
    expect(readBound('session', token, EVENT, SECRET, 1_000)).toBeUndefined();
    expect(readBound('access', token, { ...EVENT, id: 'ev_2' }, SECRET, 1_000)).toBeUndefined();
    expect(readBound('access', token, { ...EVENT, account_id: 'acc_B' }, SECRET, 1_000)).toBeUndefined();
    expect(readBound('access', token, EVENT, SECRET, 2_000)).toBeUndefined();
    expect(readBound('access', token, EVENT, `${SECRET}x`, 1_000)).toBeUndefined();
    expect(readBound('access', `${token}x`, EVENT, SECRET, 1_000)).toBeUndefined();
    expect(readBound('access', 'x'.repeat(5000), EVENT, SECRET, 1_000)).toBeUndefined();
  });
  it('refuses to sign a field that could forge another', () => {
    expect(() => signBound('access', EVENT, ['rg_1|owner'], SECRET)).toThrow();
  });
});

describe('the edge key', () => {
  it('is derived from the server secret and is not it', () => {
    const key = playbackKey(SECRET);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(SECRET);
    expect(playbackKey(SECRET)).toBe(key);
    expect(playbackKey(`${SECRET}x`)).not.toBe(key);
  });
});

describe('CSV cells stay text in every spreadsheet locale', () => {
  it('neutralises formulas and quotes semicolons', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('x;=1+1;')).toBe('"x;=1+1;"');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('Ada')).toBe('Ada');
  });
});

describe('logs mask what must not be logged', () => {
  it('emails, personal-link tokens and stream keys', () => {
    const line = redact(
      '550 <ada@example.com> /me/me%7Cacc%7Cev.abc/data.json /u/tok ?k=join.x&z live_abcdefghijk1234',
    );
    expect(line).toBe('550 <<email>> /me/<token>/data.json /u/<token> ?k=<token>&z live_<key>');
  });
});

describe('text checks', () => {
  it('NUL bytes, lone surrogates and deep nesting are found', () => {
    expect(isCleanText('Ada 😀')).toBe(true);
    expect(isCleanText('Ada\u0000')).toBe(false);
    expect(isCleanText('\uD800x')).toBe(false);
    expect(isCleanText('x\uDC00')).toBe(false);
    let deep: unknown = 'x';
    for (let i = 0; i < 20; i++) deep = [deep];
    expect(findBadText(deep)).toMatch(/nested/);
    expect(findBadText({ a: ['ok', { b: 'fine' }] })).toBeUndefined();
    expect(findBadText({ ['k\u0000']: 1 })).toMatch(/NUL/);
  });
});
