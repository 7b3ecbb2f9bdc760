import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/services/passwords.ts';
import { openTeamToken, passwordPrint, signTeamToken } from '../../src/team/links.ts';

const SECRET = 'a test secret of enough length';

describe('team links', () => {
  const now = Date.parse('2026-12-02T10:00:00Z');
  const token = signTeamToken('reset', 'acc_A', 'usr_U', now + 60_000, SECRET, 'print');

  it('opens for its purpose before it expires, with its account, object and extra field', () => {
    expect(openTeamToken('reset', token, SECRET, now)).toEqual({
      accountId: 'acc_A',
      objectId: 'usr_U',
      extra: 'print',
    });
  });

  it('is nothing for another purpose, after expiry, with another secret, or altered', () => {
    expect(openTeamToken('invite', token, SECRET, now)).toBeUndefined();
    expect(openTeamToken('reset', token, SECRET, now + 61_000)).toBeUndefined();
    expect(openTeamToken('reset', token, 'another secret entirely', now)).toBeUndefined();
    expect(openTeamToken('reset', token.replace('usr_U', 'usr_V'), SECRET, now)).toBeUndefined();
    expect(openTeamToken('reset', 'x'.repeat(10_000), SECRET, now)).toBeUndefined();
    expect(openTeamToken('reset', '', SECRET, now)).toBeUndefined();
  });

  it('prints a password hash so that a changed password voids the link', () => {
    expect(passwordPrint('scrypt$15$8$1$a$b')).not.toBe(passwordPrint('scrypt$15$8$1$a$c'));
    expect(passwordPrint('scrypt$15$8$1$a$b')).toHaveLength(16);
  });
});

describe('passwords', () => {
  it('verifies the password it hashed, and nothing else', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$15\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    // Unicode forms of one password are one password.
    const composed = await hashPassword('caf\u00e9 au lait!!');
    expect(await verifyPassword('cafe\u0301 au lait!!', composed)).toBe(true);
  });

  it('says no, after the same work, for an unknown user or a malformed hash', async () => {
    expect(await verifyPassword('anything at all', undefined)).toBe(false);
    expect(await verifyPassword('anything at all', 'md5$abc')).toBe(false);
  });
});
