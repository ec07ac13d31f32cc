import { describe, expect, it } from 'vitest';
import { KeyRingError, parseKeyRing, SINGLE_KEY_KID } from '../../lib/tokens/keyring.ts';

const LONG = 'k'.repeat(32);

describe('parsing the signing-key value', () => {
  it('takes a single key of at least 32 characters under the kid "default"', () => {
    const ring = parseKeyRing(LONG);
    expect(ring.currentKid).toBe(SINGLE_KEY_KID);
    expect([...ring.keys.keys()]).toEqual([SINGLE_KEY_KID]);
  });

  it('refuses a single key shorter than 32 characters with a message that does not contain it', () => {
    const short = 'short-secret-value';
    expect(() => parseKeyRing(short)).toThrow(KeyRingError);
    expect(() => parseKeyRing(short)).toThrow(/at least 32 characters/);
    expect(() => parseKeyRing(short)).not.toThrow(new RegExp(short));
  });

  it('takes the JSON ring with its current kid', () => {
    const ring = parseKeyRing(JSON.stringify({ current: 'k2', keys: { k1: LONG, k2: `${LONG}2` } }));
    expect(ring.currentKid).toBe('k2');
    expect([...ring.keys.keys()].sort()).toEqual(['k1', 'k2']);
  });

  it.each([
    ['a current kid with no key', { current: 'k9', keys: { k1: LONG } }],
    ['a short key in the ring', { current: 'k1', keys: { k1: LONG, k2: 'short' } }],
    ['a non-string key', { current: 'k1', keys: { k1: 12345 } }],
    ['a kid with a path in it', { current: '../k1', keys: { '../k1': LONG } }],
    ['no keys object', { current: 'k1' }],
    ['keys as an array', { current: '0', keys: [LONG] }],
  ])('refuses a ring with %s', (_name, value) => {
    expect(() => parseKeyRing(JSON.stringify(value))).toThrow(KeyRingError);
  });

  it('refuses malformed JSON', () => {
    expect(() => parseKeyRing('{"current": ')).toThrow(KeyRingError);
  });
});
