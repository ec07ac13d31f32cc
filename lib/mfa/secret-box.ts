import { createCipheriv, createDecipheriv, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import type { KeyRing, SigningKey } from '../tokens/keyring.ts';

/**
 * TOTP secrets at rest (API.md "Second factor": a table leak alone must not yield them). A secret is sealed with
 * AES-256-GCM (NIST SP 800-38D) under a key derived with HKDF-SHA-256 (RFC 5869) from a key of the signing-key
 * ring, which lives in SSM Parameter Store (a SecureString) on AWS and in the SSM stand-in locally, never in the
 * table: whoever has only the table has ciphertext. The sealed form names the ring's key id, so that a ring
 * rotation leaves existing secrets readable as long as that key stays in the ring; every accepted code re-seals
 * the secret under the ring's current key in the same write that records the step (see `MfaStore`), so secrets
 * follow rotations as their owners sign in.
 *
 * Format (text, stored as a string attribute): `<kid>.<base64url(nonce 12 | ciphertext | tag 16)>`. The
 * associated data binds it to the user id: a sealed secret copied onto another user's item does not open.
 */
const HKDF_INFO = 'lambda-token-auth totp secret v1';
const HKDF_SALT = 'lambda-token-auth second factor';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const derived = new WeakMap<SigningKey, Buffer>();

/** The key material of a ring key: the HMAC secret's bytes, or the private key's PKCS#8 DER. */
function keyMaterial(key: KeyObject): Buffer {
  return key.type === 'secret' ? key.export() : (key.export({ type: 'pkcs8', format: 'der' }) as Buffer);
}

function sealingKey(key: SigningKey): Buffer {
  let sealing = derived.get(key);
  if (!sealing) {
    sealing = Buffer.from(hkdfSync('sha256', keyMaterial(key.signingKey), HKDF_SALT, HKDF_INFO, 32));
    derived.set(key, sealing);
  }
  return sealing;
}

/** Seals a base32 secret for `userId` under the ring's current key. */
export function sealTotpSecret(ring: KeyRing, userId: string, secretBase32: string): string {
  const key = ring.keys.get(ring.currentKid) as SigningKey;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(key), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(userId));
  const sealed = Buffer.concat([
    iv,
    cipher.update(secretBase32, 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return `${key.kid}.${sealed.toString('base64url')}`;
}

/**
 * Opens a sealed secret of `userId`: the base32 secret, or `undefined` when it does not open (its key is no longer
 * in the ring, it was tampered with or belongs to another user).
 */
export function openTotpSecret(ring: KeyRing, userId: string, sealed: unknown): string | undefined {
  if (typeof sealed !== 'string') return undefined;
  const dot = sealed.indexOf('.');
  const key = ring.keys.get(sealed.slice(0, dot));
  if (dot < 0 || !key) return undefined;
  const bytes = Buffer.from(sealed.slice(dot + 1), 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(key), bytes.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(userId));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Whether a sealed secret is under the ring's current key (else the next accepted code re-seals it). */
export const sealedUnderCurrentKey = (ring: KeyRing, sealed: string): boolean =>
  sealed.startsWith(`${ring.currentKid}.`);
