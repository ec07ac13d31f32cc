import { randomBytes } from 'node:crypto';
import {
  algorithmOfKey,
  generateSigningKey,
  KeyRingError,
  parseKeyRing,
  SINGLE_KEY_KID,
  type SigningAlgorithm,
} from '../lib/tokens/keyring.ts';

/**
 * The signing-key ring as stored in SSM (API.md): `{"current": "<kid>", "keys": {"<kid>": "<key>", ...}}`.
 *
 * The scripts keep the keys in a fixed order, oldest first: `[previous, current, next]`.
 * - `current` signs every new token.
 * - `previous` (the last current) still verifies the tokens it signed, so a rotation logs nobody out.
 * - `next` is published but signs nothing yet. Functions cache the ring (`KEY_CACHE_MAX_AGE`, 5 minutes), so a
 *   key that became current the moment it was created would be unknown to warm functions for that long, and
 *   their tokens refused. A staged key has been in every cache since the previous rotation when it is promoted.
 *
 * A rotation promotes `next` to `current`, `current` to `previous`, stages a fresh `next`, and drops every key
 * older than the old `current`: those signed nothing since the rotation before last (give or take the functions'
 * key cache), so once that lies a refresh token's lifetime plus `KEY_CACHE_MAX_AGE` in the past, no live token
 * names them. The JWKS publishes every key of the ring, so a retired key stays published exactly as long.
 *
 * Every key of a ring is of one algorithm (`SIGNING_ALG`): HS256 secrets, or ES256 / RS256 PKCS#8 PEMs.
 */
export interface StoredKeyRing {
  current: string;
  keys: Record<string, string>;
}

/** Bytes of randomness per HS256 key; its base64url text (86 characters) is the HMAC key. */
export const KEY_BYTES = 64;

/** A new random key of `algorithm`, as the ring stores it (see `generateSigningKey`). */
export function newKey(algorithm: SigningAlgorithm = 'HS256'): string {
  return generateSigningKey(algorithm);
}

const KID_TIME = /^k(\d{8}T\d{6}Z)-[0-9a-f]{6}$/;

/** A new key id that records when it was made: `k20261126T221500Z-3fa9c1` (sortable, unique). */
export function newKid(now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `k${stamp}-${randomBytes(3).toString('hex')}`;
}

/** When a kid made by {@link newKid} was made; `undefined` for any other kid. */
export function kidCreatedAt(kid: string): Date | undefined {
  const match = KID_TIME.exec(kid);
  if (!match?.[1]) return undefined;
  const s = match[1];
  return new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
  );
}

/** A first ring of `algorithm`: a current key and a staged next one. */
export function initialKeyRing(
  now: Date,
  algorithm: SigningAlgorithm = 'HS256',
  makeKey = () => newKey(algorithm),
): StoredKeyRing {
  const current = newKid(now);
  const next = newKid(now);
  return { current, keys: { [current]: makeKey(), [next]: makeKey() } };
}

/** The algorithm of a stored value, read from its current key (every key of a valid ring has the same). */
export function algorithmOfValue(value: string): SigningAlgorithm {
  if (!value.trim().startsWith('{')) return algorithmOfKey(SINGLE_KEY_KID, value);
  let current: unknown;
  let keys: unknown;
  try {
    ({ current, keys } = JSON.parse(value) as { current?: unknown; keys?: unknown });
  } catch {
    throw new KeyRingError('Signing key ring is not valid JSON');
  }
  const key = typeof current === 'string' ? (keys as Record<string, unknown> | null)?.[current] : undefined;
  return typeof key === 'string' ? algorithmOfKey(current as string, key) : 'HS256';
}

/**
 * Reads a stored value in either form API.md allows (one key, or the ring), validating it as the functions do
 * for its algorithm; returns the ring and that algorithm.
 */
export function readStoredKeyRing(value: string): StoredKeyRing & { algorithm: SigningAlgorithm } {
  const algorithm = algorithmOfValue(value);
  parseKeyRing(value, algorithm); // the functions' own validation: a value they would refuse is refused here first
  if (!value.trim().startsWith('{')) {
    return { algorithm, current: SINGLE_KEY_KID, keys: { [SINGLE_KEY_KID]: value } };
  }
  const { current, keys } = JSON.parse(value) as StoredKeyRing;
  return { algorithm, current, keys: { ...keys } };
}

export interface Rotation {
  ring: StoredKeyRing;
  /** The kid that signs from now on (unchanged when this rotation only staged a next key). */
  current: string;
  /** The kid staged to be promoted by the next rotation. */
  next: string;
  /** Kids removed from the ring. */
  dropped: string[];
  /** True when the ring had no staged key, so this rotation only staged one and `current` did not change. */
  stagedOnly: boolean;
}

/**
 * Rotates a ring (see {@link StoredKeyRing}): promotes the staged key, keeps the old current for verification,
 * stages a new key and drops the rest. A ring with no key after `current` (a single-key value, or one made by
 * hand) gets a staged key only, and loses nothing: run the rotation again once every function has seen it.
 */
export function rotateKeyRing(
  stored: StoredKeyRing,
  now: Date,
  makeKey = () => newKey(algorithmOfValue(JSON.stringify(stored))),
): Rotation {
  const kids = Object.keys(stored.keys);
  const position = kids.indexOf(stored.current);
  if (position < 0) throw new Error(`the ring's current kid "${stored.current}" has no key`);
  const staged = kids[position + 1];
  const freshKid = newKid(now);
  if (staged === undefined) {
    // Nothing is dropped here: with no order to go by, any of the other keys may still be signing live tokens.
    return {
      ring: { current: stored.current, keys: { ...stored.keys, [freshKid]: makeKey() } },
      current: stored.current,
      next: freshKid,
      dropped: [],
      stagedOnly: true,
    };
  }
  const keys: Record<string, string> = {
    [stored.current]: stored.keys[stored.current] as string,
    [staged]: stored.keys[staged] as string,
    [freshKid]: makeKey(),
  };
  return {
    ring: { current: staged, keys },
    current: staged,
    next: freshKid,
    dropped: kids.filter((kid) => kid !== stored.current && kid !== staged),
    stagedOnly: false,
  };
}

/**
 * Seconds since the last rotation, read from the staged key's kid (it was made by that rotation); `undefined`
 * when the kid does not record it. Rotating again sooner than a refresh token's lifetime would drop a key that
 * signed tokens still alive, and log their holders out.
 */
export function secondsSinceLastRotation(stored: StoredKeyRing, now: Date): number | undefined {
  const kids = Object.keys(stored.keys);
  const staged = kids[kids.indexOf(stored.current) + 1];
  const made = staged === undefined ? undefined : kidCreatedAt(staged);
  return made === undefined ? undefined : Math.floor((now.getTime() - made.getTime()) / 1000);
}
