import { createHash, randomBytes } from 'node:crypto';

/** How many recovery codes a set has (API.md "Second factor"). */
export const RECOVERY_CODE_COUNT = 10;

/**
 * Random bytes per code: 15 bytes = 120 bits, above OWASP ASVS 5.0 6.5.2's 112 bits for a secret that may be
 * stored under a fast (unsalted, unstretched) hash. Shown as 24 base32 characters in six groups of four.
 */
const CODE_BYTES = 15;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** One new recovery code as the user sees it: `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx` (lower-case base32). */
export function newRecoveryCode(): string {
  return (base32(randomBytes(CODE_BYTES)).match(/.{4}/g) ?? []).join('-');
}

/** A new set of {@link RECOVERY_CODE_COUNT} codes, to be shown once. */
export const newRecoveryCodes = (): string[] => Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);

/**
 * The form a code is compared in: case, spaces and hyphens as typed do not matter. `undefined` when it cannot be
 * a code at all (so a typo costs no store request).
 */
export function normaliseRecoveryCode(typed: string): string | undefined {
  const compact = typed.toLowerCase().replace(/[\s-]/g, '');
  return /^[a-z2-7]{24}$/.test(compact) ? compact : undefined;
}

/**
 * The stored form of a code: SHA-256 of its normalised form, base64url. A fast hash suffices for 120 random bits
 * (ASVS 6.5.2); the store never holds a code itself. `undefined` for input that cannot be a code.
 */
export function hashRecoveryCode(typed: string): string | undefined {
  const code = normaliseRecoveryCode(typed);
  return code === undefined ? undefined : createHash('sha256').update(code).digest('base64url');
}
