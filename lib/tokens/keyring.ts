import { createSecretKey, type KeyObject } from 'node:crypto';

/** The signing keys, by key id: new tokens are signed with `current`; a token is verified with its `kid`'s key. */
export interface KeyRing {
  readonly currentKid: string;
  readonly keys: ReadonlyMap<string, KeyObject>;
}

/** The key id given to a signing-key value that is a single key rather than the JSON key ring. */
export const SINGLE_KEY_KID = 'default';
export const MIN_KEY_LENGTH = 32;
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** A signing-key value that cannot be used; the message never contains the key itself. */
export class KeyRingError extends Error {
  override name = 'KeyRingError';
}

function toKey(kid: string, key: unknown): KeyObject {
  if (!KID_PATTERN.test(kid)) {
    throw new KeyRingError(`Signing key id "${kid.slice(0, 64)}" must match ${KID_PATTERN}`);
  }
  if (typeof key !== 'string' || key.length < MIN_KEY_LENGTH) {
    throw new KeyRingError(`Signing key "${kid}" must be a string of at least ${MIN_KEY_LENGTH} characters`);
  }
  // jsonwebtoken verifies several times faster with a KeyObject than with a string it must convert each time.
  return createSecretKey(Buffer.from(key, 'utf8'));
}

/**
 * Parses a signing-key value: either one key of at least 32 characters (key id `default`), or the JSON ring
 * `{"current": "<kid>", "keys": {"<kid>": "<key>", ...}}`. Throws {@link KeyRingError} on anything else.
 */
export function parseKeyRing(value: string): KeyRing {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{')) {
    return { currentKid: SINGLE_KEY_KID, keys: new Map([[SINGLE_KEY_KID, toKey(SINGLE_KEY_KID, value)]]) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // The parser's own message quotes the input around the fault, which here is key material: it is dropped.
    throw new KeyRingError('Signing key ring is not valid JSON');
  }
  const { current, keys } = (parsed ?? {}) as { current?: unknown; keys?: unknown };
  if (typeof current !== 'string' || typeof keys !== 'object' || keys === null || Array.isArray(keys)) {
    throw new KeyRingError('Signing key ring must be {"current": "<kid>", "keys": {"<kid>": "<key>"}}');
  }
  const ring = new Map<string, KeyObject>();
  for (const [kid, key] of Object.entries(keys)) ring.set(kid, toKey(kid, key));
  if (!ring.has(current))
    throw new KeyRingError(`Signing key ring has no key for its current kid "${current}"`);
  return { currentKid: current, keys: ring };
}
