import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  KeyRingError,
  parseKeyRing,
  publicJwks,
  SINGLE_KEY_KID,
} from '../../lib/tokens/keyring.ts';

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

describe.each(['ES256', 'RS256'] as const)('%s signing keys', (algorithm) => {
  const pem = generateSigningKey(algorithm);
  const other = generateSigningKey(algorithm === 'ES256' ? 'RS256' : 'ES256');

  it('takes a single PKCS#8 PEM under the kid "default", and a ring of them', () => {
    expect(parseKeyRing(pem, algorithm).currentKid).toBe(SINGLE_KEY_KID);
    const ring = parseKeyRing(
      JSON.stringify({ current: 'k2', keys: { k1: pem, k2: generateSigningKey(algorithm) } }),
      algorithm,
    );
    expect(ring.algorithm).toBe(algorithm);
    expect([...ring.keys.keys()]).toEqual(['k1', 'k2']);
    expect(ring.keys.get('k1')?.verificationKey.type).toBe('public');
    expect(ring.keys.get('k1')?.signingKey.type).toBe('private');
  });

  it('publishes every key of the ring as a public JWK with kid, alg and use, and no private member', () => {
    const ring = parseKeyRing(
      JSON.stringify({ current: 'k1', keys: { k1: pem, k2: generateSigningKey(algorithm) } }),
      algorithm,
    );
    const { keys } = publicJwks(ring);
    expect(keys.map((key) => key.kid)).toEqual(['k1', 'k2']);
    for (const jwk of keys) {
      expect(jwk).toMatchObject({ alg: algorithm, use: 'sig', kty: algorithm === 'ES256' ? 'EC' : 'RSA' });
      expect(Object.keys(jwk).sort()).toEqual(
        (algorithm === 'ES256'
          ? ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']
          : ['alg', 'e', 'kid', 'kty', 'n', 'use']
        ).sort(),
      );
    }
    // The published key is the ring's own public key.
    const published = createPublicKey({ key: keys[0] as JsonWebKey, format: 'jwk' });
    expect(published.equals(ring.keys.get('k1')?.verificationKey as KeyObject)).toBe(true);
  });

  it.each([
    ['a key of the other algorithm', () => other],
    ['an HMAC secret', () => generateSigningKey('HS256')],
    ['a public key', () => createPublicKey(pem).export({ type: 'spki', format: 'pem' }) as string],
    [
      'a PKCS#1 / SEC1 PEM instead of PKCS#8',
      () =>
        createPrivateKey(pem).export({
          type: algorithm === 'ES256' ? 'sec1' : 'pkcs1',
          format: 'pem',
        }) as string,
    ],
    ['a truncated PEM', () => `${pem.slice(0, 60)}\n-----END PRIVATE KEY-----`],
  ])('refuses %s, with a message that does not contain the key', (_name, make) => {
    const value = make();
    expect(() => parseKeyRing(value, algorithm)).toThrow(KeyRingError);
    try {
      parseKeyRing(value, algorithm);
    } catch (error) {
      expect((error as Error).message).not.toContain(value.slice(40, 80));
    }
  });

  it('refuses an RSA key shorter than 2048 bits', () => {
    if (algorithm !== 'RS256') return;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const short = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => parseKeyRing(short, 'RS256')).toThrow(/2048/);
  });

  it('refuses a P-384 key for ES256', () => {
    if (algorithm !== 'ES256') return;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(() =>
      parseKeyRing(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'ES256'),
    ).toThrow(KeyRingError);
  });

  it('is refused in an HS256 ring (a PEM must never become an HMAC secret)', () => {
    expect(() => parseKeyRing(pem, 'HS256')).toThrow(/SIGNING_ALG is HS256/);
    expect(() => parseKeyRing(JSON.stringify({ current: 'a', keys: { a: LONG, b: pem } }), 'HS256')).toThrow(
      KeyRingError,
    );
  });

  it('publishes no keys for an HS256 ring', () => {
    expect(publicJwks(parseKeyRing(LONG, 'HS256')).keys).toEqual([]);
  });
});
