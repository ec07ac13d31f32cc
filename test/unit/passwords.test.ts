import { describe, expect, it } from 'vitest';
import {
  CURRENT_ARGON2_PARAMS,
  DUMMY_PASSWORD_HASH,
  hashPassword,
  verifyPassword,
} from '../../lib/passwords/argon2.ts';
import { passwordWeakness } from '../../lib/passwords/strength.ts';

describe('password hashing', () => {
  it('stores a self-describing argon2id PHC string at the current parameters', async () => {
    const hash = await hashPassword('a fine passphrase');
    const { memory, passes, parallelism } = CURRENT_ARGON2_PARAMS;
    expect(hash).toMatch(
      new RegExp(
        `^\\$argon2id\\$v=19\\$m=${memory},t=${passes},p=${parallelism}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$`,
      ),
    );
  });

  it('salts every hash', async () => {
    expect(await hashPassword('same password')).not.toBe(await hashPassword('same password'));
  });

  it('matches the right password and not a wrong one', async () => {
    const hash = await hashPassword('a fine passphrase');
    expect(await verifyPassword(hash, 'a fine passphrase')).toEqual({ matches: true, needsRehash: false });
    expect((await verifyPassword(hash, 'a fine passphrasE')).matches).toBe(false);
  });

  it('asks for a rehash of a hash made with older parameters', async () => {
    const old = await hashPassword('a fine passphrase', { memory: 8192, passes: 1, parallelism: 1 });
    expect(await verifyPassword(old, 'a fine passphrase')).toEqual({ matches: true, needsRehash: true });
  });

  it('never matches the dummy hash used for unknown users', async () => {
    expect((await verifyPassword(DUMMY_PASSWORD_HASH, '')).matches).toBe(false);
    expect((await verifyPassword(DUMMY_PASSWORD_HASH, 'anything at all')).matches).toBe(false);
  });

  it('never matches a malformed stored hash', async () => {
    expect((await verifyPassword('$2b$10$notargon', 'x')).matches).toBe(false);
  });
});

describe('password strength', () => {
  it.each([
    ['shorter than 8 characters', 'abc123!'],
    ['a very common password', 'password123'],
    ['containing the username', 'alice-is-great'],
    ['made of one repeated character', 'aaaaaaaaaaaa'],
  ])('refuses a password %s', (_name, password) => {
    expect(passwordWeakness(password, 'alice')).toBeTypeOf('string');
  });

  it('accepts a long passphrase', () => {
    expect(passwordWeakness('correct horse battery staple', 'alice')).toBeUndefined();
  });
});
