import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
} from 'node:crypto';

/**
 * The JWS algorithms a deployment may sign with (`SIGNING_ALG`, API.md "Signing keys and discovery"): HMAC with
 * a shared secret (the original design), or ECDSA P-256 / RSASSA-PKCS1-v1_5 with a private key whose public half
 * third parties can verify with (RFC 7518, 3.1).
 */
export const signingAlgorithms = ['HS256', 'ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof signingAlgorithms)[number];

export const isSigningAlgorithm = (value: unknown): value is SigningAlgorithm =>
  signingAlgorithms.includes(value as SigningAlgorithm);

/** One key of the ring. Its algorithm is the ring's: a token is only ever verified with that one algorithm. */
export interface SigningKey {
  readonly kid: string;
  /** Signs: the HMAC secret (HS256) or the private key (ES256, RS256). */
  readonly signingKey: KeyObject;
  /** Verifies: the same HMAC secret (HS256) or the public key (ES256, RS256). */
  readonly verificationKey: KeyObject;
  /** The public JWK (RFC 7517) with `kid`, `alg` and `use`; absent for HS256, which has no public key. */
  readonly publicJwk: PublicJwk | undefined;
}

/** A public JSON Web Key as published in the JWKS: never a private member (`d`, `p`, `q`, ...). */
export interface PublicJwk extends JsonWebKey {
  kty: 'EC' | 'RSA';
  kid: string;
  alg: 'ES256' | 'RS256';
  use: 'sig';
}

/** The signing keys, by key id: new tokens are signed with `current`; a token is verified with its `kid`'s key. */
export interface KeyRing {
  /** The one algorithm every key of the ring signs and verifies with (`SIGNING_ALG`). */
  readonly algorithm: SigningAlgorithm;
  readonly currentKid: string;
  readonly keys: ReadonlyMap<string, SigningKey>;
}

/** The key id given to a signing-key value that is a single key rather than the JSON key ring. */
export const SINGLE_KEY_KID = 'default';
export const MIN_KEY_LENGTH = 32;
/** RFC 7518, 3.3: an RS256 key must be at least 2048 bits. */
export const MIN_RSA_BITS = 2048;
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const PEM_PREFIX = '-----BEGIN';
const PKCS8_PEM = /^-----BEGIN PRIVATE KEY-----\s[A-Za-z0-9+/=\s]+-----END PRIVATE KEY-----$/;

/** A signing-key value that cannot be used; the message never contains the key itself. */
export class KeyRingError extends Error {
  override name = 'KeyRingError';
}

/**
 * The algorithm a single key of the ring is for, from its form: a PKCS#8 PEM of a P-256 key is ES256, of an RSA
 * key RS256; any other text is an HS256 secret. Throws {@link KeyRingError} for a PEM that is neither.
 */
export function algorithmOfKey(kid: string, key: string): SigningAlgorithm {
  if (!key.trimStart().startsWith(PEM_PREFIX)) return 'HS256';
  return asymmetricKey(kid, key).algorithm;
}

function asymmetricKey(kid: string, key: string): { algorithm: 'ES256' | 'RS256'; privateKey: KeyObject } {
  if (!PKCS8_PEM.test(key.trim())) {
    throw new KeyRingError(
      `Signing key "${kid}" must be an unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"; convert with: openssl pkcs8 -topk8 -nocrypt)`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key, format: 'pem' });
  } catch {
    throw new KeyRingError(`Signing key "${kid}" is not a readable private key`);
  }
  const details = privateKey.asymmetricKeyDetails;
  if (privateKey.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') {
    return { algorithm: 'ES256', privateKey };
  }
  if (privateKey.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < MIN_RSA_BITS) {
      throw new KeyRingError(`Signing key "${kid}" is an RSA key shorter than ${MIN_RSA_BITS} bits`);
    }
    return { algorithm: 'RS256', privateKey };
  }
  throw new KeyRingError(`Signing key "${kid}" is neither a P-256 (ES256) nor an RSA (RS256) private key`);
}

function toKey(kid: string, key: unknown, algorithm: SigningAlgorithm): SigningKey {
  if (!KID_PATTERN.test(kid)) {
    throw new KeyRingError(`Signing key id "${kid.slice(0, 64)}" must match ${KID_PATTERN}`);
  }
  if (typeof key !== 'string') throw new KeyRingError(`Signing key "${kid}" must be a string`);
  const found = algorithmOfKey(kid, key);
  // One algorithm per ring, named by the deployment: a PEM read as an HMAC secret (SIGNING_ALG forgotten) would
  // make the public key a signing secret, the very confusion RFC 8725, 2.1 warns of.
  if (found !== algorithm) {
    throw new KeyRingError(`Signing key "${kid}" is a ${found} key, but SIGNING_ALG is ${algorithm}`);
  }
  if (algorithm === 'HS256') {
    if (key.length < MIN_KEY_LENGTH) {
      throw new KeyRingError(
        `Signing key "${kid}" must be a string of at least ${MIN_KEY_LENGTH} characters`,
      );
    }
    // jsonwebtoken verifies several times faster with a KeyObject than with a string it must convert each time.
    const secret = createSecretKey(Buffer.from(key, 'utf8'));
    return { kid, signingKey: secret, verificationKey: secret, publicJwk: undefined };
  }
  const { privateKey } = asymmetricKey(kid, key);
  const publicKey = createPublicKey(privateKey);
  // A public KeyObject exports only public members (kty and crv/x/y or n/e).
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    kid,
    signingKey: privateKey,
    verificationKey: publicKey,
    publicJwk: { ...jwk, kty: jwk.kty as 'EC' | 'RSA', kid, alg: algorithm, use: 'sig' },
  };
}

/**
 * Parses a signing-key value for `algorithm`: either one key (key id `default`), or the JSON ring
 * `{"current": "<kid>", "keys": {"<kid>": "<key>", ...}}`. An HS256 key is a secret of at least 32 characters;
 * an ES256 or RS256 key a PKCS#8 PEM private key of that algorithm (P-256; RSA of at least 2048 bits).
 * Throws {@link KeyRingError} on anything else, including a key of another algorithm.
 */
export function parseKeyRing(value: string, algorithm: SigningAlgorithm = 'HS256'): KeyRing {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{')) {
    return {
      algorithm,
      currentKid: SINGLE_KEY_KID,
      keys: new Map([[SINGLE_KEY_KID, toKey(SINGLE_KEY_KID, value, algorithm)]]),
    };
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
  const ring = new Map<string, SigningKey>();
  for (const [kid, key] of Object.entries(keys)) ring.set(kid, toKey(kid, key, algorithm));
  if (!ring.has(current))
    throw new KeyRingError(`Signing key ring has no key for its current kid "${current}"`);
  return { algorithm, currentKid: current, keys: ring };
}

/**
 * The JWK Set (RFC 7517, 5) of a ring: the public key of every key in it, the staged and the previous ones
 * included, so that a verifier knows a key before it signs and until its last token has expired. Empty for
 * HS256.
 */
export function publicJwks(ring: KeyRing): { keys: PublicJwk[] } {
  const keys: PublicJwk[] = [];
  for (const key of ring.keys.values()) if (key.publicJwk) keys.push(key.publicJwk);
  return { keys };
}

/**
 * A new random key for `algorithm`, as text the ring stores: 64 random bytes in base64url (86 characters) for
 * HS256, a PKCS#8 PEM private key for ES256 (P-256) and RS256 (2048 bits).
 */
export function generateSigningKey(algorithm: SigningAlgorithm): string {
  if (algorithm === 'HS256') return randomBytes(64).toString('base64url');
  const { privateKey } =
    algorithm === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: MIN_RSA_BITS });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}
