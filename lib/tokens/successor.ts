import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * The pair a rotation issued, as kept for the grace window: both token strings and their `exp` (epoch
 * seconds), so that a retry can be answered with the very same strings and their remaining lifetimes.
 */
export interface SuccessorPair {
  accessToken: string;
  refreshToken: string;
  accessExp: number;
  refreshExp: number;
}

/** Version byte of the sealed format; any other is never opened (it is treated as absent). */
const FORMAT = 1;
/** HKDF `info` (RFC 5869 §3.2): binds the derived key to this one use, apart from any other key made from a token. */
const HKDF_INFO = 'lambda-token-auth refresh successor pair v1';
const IV_BYTES = 12; // NIST SP 800-38D's recommended GCM nonce length
const TAG_BYTES = 16;
/** Far above any real pair (two tokens of at most 4 KiB): a bound on inflating, should it ever be needed. */
const MAX_PLAINTEXT_BYTES = 16 * 1024;

/**
 * The AES-256 key that seals the successor of `presentedRefreshToken`: HKDF-SHA-256 (RFC 5869) with the token
 * itself as input keying material. The token is a signed JWT (a random `jti` and a MAC or signature made with a
 * key the store never sees), so it has far more than 256 bits of entropy to an attacker, and the key cannot be
 * computed from anything the store holds: the store keeps only SHA-256 of the token, and HKDF-Extract is an
 * HMAC keyed by the session id, a different function of the token.
 */
function sealingKey(presentedRefreshToken: string, sid: string): Buffer {
  return Buffer.from(hkdfSync('sha256', presentedRefreshToken, sid, HKDF_INFO, 32));
}

/**
 * The associated data (authenticated, not encrypted): the session id and the hash of the token the pair
 * succeeds, so that a sealed pair moved to another session or another rotation's slot never opens.
 */
const associatedData = (sid: string, presentedHash: string) => Buffer.from(`${sid}\n${presentedHash}`);

/**
 * Seals the pair a rotation issues, under a key only a holder of the presented (now previous) refresh token
 * can derive: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce. Each key seals exactly one pair (a
 * token rotates successfully at most once), so nonce reuse under one key cannot happen. Returns the bytes
 * `version (1) | nonce (12) | ciphertext | tag (16)`, stored as a DynamoDB binary attribute (a third smaller
 * than base64 text, and every byte of a session item counts toward its 1 KB write units).
 */
export function sealSuccessorPair(
  pair: SuccessorPair,
  presented: { refreshToken: string; hash: string },
  sid: string,
): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(presented.refreshToken, sid), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(associatedData(sid, presented.hash));
  // Compressed first: the two tokens share most of their header and claims, and this halves what every
  // rotation writes (about 0.6 KB instead of 1.2 KB), keeping a session item within one 1 KB write unit. Only
  // server-made tokens go in, nothing an attacker chooses, so compression reveals nothing through the length.
  const plaintext = deflateRawSync(
    JSON.stringify([pair.accessToken, pair.refreshToken, pair.accessExp, pair.refreshExp]),
  );
  return Buffer.concat([
    Buffer.of(FORMAT),
    iv,
    cipher.update(plaintext),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
}

/**
 * Opens a pair sealed by {@link sealSuccessorPair} with the refresh token it succeeds. Returns `undefined`
 * when it does not open (another token, another session, a tampered or unknown format): the caller then
 * has no pair to answer with, never a wrong one.
 */
export function openSuccessorPair(
  sealed: Uint8Array | undefined,
  presented: { refreshToken: string; hash: string },
  sid: string,
): SuccessorPair | undefined {
  if (!(sealed instanceof Uint8Array) || sealed[0] !== FORMAT) return undefined;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset + 1, sealed.byteLength - 1);
  if (bytes.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      sealingKey(presented.refreshToken, sid),
      bytes.subarray(0, IV_BYTES),
      { authTagLength: TAG_BYTES },
    );
    decipher.setAAD(associatedData(sid, presented.hash));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const compressed = Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
    // Inflated only once the tag has verified, so only a plaintext this service sealed is ever inflated.
    const plaintext = inflateRawSync(compressed, { maxOutputLength: MAX_PLAINTEXT_BYTES });
    const [accessToken, refreshToken, accessExp, refreshExp] = JSON.parse(plaintext.toString('utf8'));
    if (
      typeof accessToken !== 'string' ||
      typeof refreshToken !== 'string' ||
      typeof accessExp !== 'number' ||
      typeof refreshExp !== 'number'
    ) {
      return undefined;
    }
    return { accessToken, refreshToken, accessExp, refreshExp };
  } catch {
    // The tag did not verify: not this token's pair (or not a pair at all).
    return undefined;
  }
}
