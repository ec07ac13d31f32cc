import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { TokenAudience } from './jwt.ts';

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

/**
 * Version byte of the sealed format. 1: the two token strings as JSON, deflated. 2: the tokens' decoded parts
 * (header and claims JSON deflated against a dictionary of what the session already knows, the signatures as
 * raw bytes), about half the bytes of 1. Both are opened (a rotation written by the previous version of the
 * service is still answered within the grace window); any other version is never opened (it is treated as absent).
 */
const FORMAT_TOKENS = 1;
const FORMAT_PARTS = 2;
/** HKDF `info` (RFC 5869 §3.2): binds the derived key to this one use, apart from any other key made from a token. */
const HKDF_INFO = 'lambda-token-auth refresh successor pair v1';
const IV_BYTES = 12; // NIST SP 800-38D's recommended GCM nonce length
const TAG_BYTES = 16;
/** Far above any real pair (two tokens of at most 4 KiB): a bound on inflating, should it ever be needed. */
const MAX_PLAINTEXT_BYTES = 16 * 1024;

/**
 * What the session knows of the pairs it issues, independently of the sealed bytes: its id, user, login time,
 * the signing algorithm and the audiences. Format 2 compresses against these (a deflate dictionary) and binds
 * them as associated data, so a pair opens only where they are the same as when it was sealed.
 */
export interface SuccessorContext {
  sid: string;
  userId: string;
  /** Epoch seconds of the session's login (`auth_time`). */
  authTime: number;
  algorithm: string;
  audience: TokenAudience;
}

/**
 * The deflate dictionary of format 2 (RFC 1951 preset dictionary, as zlib's `dictionary` option): the headers
 * and claims a pair of this session carries, with the per-token values (`jti`, `iat`, `exp`, `kid`, roles)
 * left out. Deflate then stores those claims as back-references of two or three bytes each.
 */
function dictionaryOf(context: SuccessorContext): Buffer {
  const { algorithm: alg, audience: aud } = context;
  return Buffer.from(
    `{"alg":"${alg}","typ":"rt+jwt","kid":"{"sub":"${context.userId}","sid":"${context.sid}","jti":"","iat":,"exp":,"iss":"${aud.issuer}","aud":"${aud.refreshAudience}","token_use":"refresh","auth_time":${context.authTime}}` +
      // RFC 8176 method references (`amr`), in either token: the common ones, so a list costs a few bytes.
      `"amr":["pwd","otp","mfa","hwk","swk","user"],` +
      `{"alg":"${alg}","typ":"at+jwt","kid":"{"roles":[],"sub":"${context.userId}","sid":"${context.sid}","jti":"","iat":,"exp":,"iss":"${aud.issuer}","aud":"${aud.audience}","token_use":"access","auth_time":${context.authTime},"client_id":"${aud.clientId}"}`,
  );
}

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
 * succeeds, so that a sealed pair moved to another session or another rotation's slot never opens; in format 2
 * also the dictionary, so that a pair never inflates against another one.
 */
const associatedData = (sid: string, presentedHash: string, dictionary?: Buffer) =>
  dictionary
    ? Buffer.concat([Buffer.from(`${sid}\n${presentedHash}\n`), dictionary])
    : Buffer.from(`${sid}\n${presentedHash}`);

/** A compact JWS's three parts, decoded: header and claims JSON, and the signature's bytes. */
function decodedParts(token: string): [Buffer, Buffer, Buffer] | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const decoded = parts.map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  // Only a token its parts rebuild exactly is sealed this way (canonical base64url, JSON without a newline).
  const rebuilt = decoded.map((part) => part.toString('base64url')).join('.');
  if (rebuilt !== token || decoded[0].includes(0x0a) || decoded[1].includes(0x0a)) return undefined;
  return decoded;
}

/**
 * Format 2's plaintext: `u16 length | access signature | u16 length | refresh signature | deflated JSON`, where
 * the JSON is the access header, access claims, refresh header and refresh claims, one per line. `undefined`
 * when a token does not decode canonically (then format 1 is used).
 */
function packParts(pair: SuccessorPair, dictionary: Buffer): Buffer | undefined {
  const access = decodedParts(pair.accessToken);
  const refresh = decodedParts(pair.refreshToken);
  if (!access || !refresh || access[2].length > 0xffff || refresh[2].length > 0xffff) return undefined;
  const json = Buffer.concat([access[0], NEWLINE, access[1], NEWLINE, refresh[0], NEWLINE, refresh[1]]);
  const length = (bytes: Buffer) => Buffer.of(bytes.length >> 8, bytes.length & 0xff);
  return Buffer.concat([
    length(access[2]),
    access[2],
    length(refresh[2]),
    refresh[2],
    deflateRawSync(json, { dictionary }),
  ]);
}
const NEWLINE = Buffer.of(0x0a);

function unpackParts(plaintext: Buffer, dictionary: Buffer): SuccessorPair | undefined {
  let offset = 0;
  const take = (): Buffer | undefined => {
    if (offset + 2 > plaintext.length) return undefined;
    const length = ((plaintext[offset] as number) << 8) | (plaintext[offset + 1] as number);
    const bytes = plaintext.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    return bytes.length === length ? bytes : undefined;
  };
  const accessSignature = take();
  const refreshSignature = take();
  if (!accessSignature || !refreshSignature) return undefined;
  const json = inflateRawSync(plaintext.subarray(offset), {
    dictionary,
    maxOutputLength: MAX_PLAINTEXT_BYTES,
  });
  const [accessHeader, accessClaims, refreshHeader, refreshClaims, ...rest] = json
    .toString('utf8')
    .split('\n');
  if (!accessHeader || !accessClaims || !refreshHeader || !refreshClaims || rest.length > 0) return undefined;
  const token = (header: string, claims: string, signature: Buffer) =>
    `${Buffer.from(header).toString('base64url')}.${Buffer.from(claims).toString('base64url')}.${signature.toString('base64url')}`;
  const accessExp: unknown = JSON.parse(accessClaims).exp;
  const refreshExp: unknown = JSON.parse(refreshClaims).exp;
  if (typeof accessExp !== 'number' || typeof refreshExp !== 'number') return undefined;
  return {
    accessToken: token(accessHeader, accessClaims, accessSignature),
    refreshToken: token(refreshHeader, refreshClaims, refreshSignature),
    accessExp,
    refreshExp,
  };
}

/**
 * Seals the pair a rotation issues, under a key only a holder of the presented (now previous) refresh token
 * can derive: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce. Each key seals exactly one pair (a
 * token rotates successfully at most once), so nonce reuse under one key cannot happen. Returns the bytes
 * `version (1) | nonce (12) | ciphertext | tag (16)`, stored as a DynamoDB binary attribute (a third smaller
 * than base64 text, and every byte of a session item counts toward its 1 KB write units).
 *
 * The plaintext is format 2 (see {@link FORMAT_PARTS}): about 0.2 KB for an HS256 pair, 0.3 KB for ES256,
 * instead of the tokens' 1 KB of text, so that a session item stays within one 1 KB write unit after a
 * rotation. Only server-made tokens go in, nothing an attacker chooses, so compression reveals nothing through
 * the length.
 */
export function sealSuccessorPair(
  pair: SuccessorPair,
  presented: { refreshToken: string; hash: string },
  context: SuccessorContext,
): Uint8Array {
  const dictionary = dictionaryOf(context);
  const parts = packParts(pair, dictionary);
  const format = parts ? FORMAT_PARTS : FORMAT_TOKENS;
  const plaintext =
    parts ??
    deflateRawSync(JSON.stringify([pair.accessToken, pair.refreshToken, pair.accessExp, pair.refreshExp]));
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(presented.refreshToken, context.sid), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(associatedData(context.sid, presented.hash, parts ? dictionary : undefined));
  return Buffer.concat([
    Buffer.of(format),
    iv,
    cipher.update(plaintext),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
}

/**
 * Opens a pair sealed by {@link sealSuccessorPair} with the refresh token it succeeds, in the session of
 * `context`. Returns `undefined` when it does not open (another token, another session or context, a tampered
 * or unknown format): the caller then has no pair to answer with, never a wrong one.
 */
export function openSuccessorPair(
  sealed: Uint8Array | undefined,
  presented: { refreshToken: string; hash: string },
  context: SuccessorContext,
): SuccessorPair | undefined {
  if (!(sealed instanceof Uint8Array)) return undefined;
  const format = sealed[0];
  if (format !== FORMAT_TOKENS && format !== FORMAT_PARTS) return undefined;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset + 1, sealed.byteLength - 1);
  if (bytes.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  const dictionary = format === FORMAT_PARTS ? dictionaryOf(context) : undefined;
  try {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      sealingKey(presented.refreshToken, context.sid),
      bytes.subarray(0, IV_BYTES),
      { authTagLength: TAG_BYTES },
    );
    decipher.setAAD(associatedData(context.sid, presented.hash, dictionary));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const plaintext = Buffer.concat([
      decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
    // Inflated only once the tag has verified, so only a plaintext this service sealed is ever inflated.
    if (dictionary) return unpackParts(plaintext, dictionary);
    const json = inflateRawSync(plaintext, { maxOutputLength: MAX_PLAINTEXT_BYTES });
    const [accessToken, refreshToken, accessExp, refreshExp] = JSON.parse(json.toString('utf8'));
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
