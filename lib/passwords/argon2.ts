import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';

/** argon2id parameters: OWASP's first recommended configuration (m=19 MiB, t=2, p=1). */
export interface Argon2Params {
  memory: number;
  passes: number;
  parallelism: number;
}

export const CURRENT_ARGON2_PARAMS: Argon2Params = { memory: 19456, passes: 2, parallelism: 1 };
const TAG_LENGTH = 32;
const SALT_LENGTH = 16;
const PHC_PATTERN = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Buffer, params: Argon2Params, tagLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2('argon2id', { message: password, nonce: salt, tagLength, ...params }, (error, derived) =>
      error ? reject(error) : resolve(derived),
    );
  });
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function encode(params: Argon2Params, salt: Buffer, hash: Buffer): string {
  return `$argon2id$v=19$m=${params.memory},t=${params.passes},p=${params.parallelism}$${b64(salt)}$${b64(hash)}`;
}

export interface PasswordCheck {
  matches: boolean;
  /** The stored hash uses other parameters than the hasher's: rehash it after this successful login. */
  needsRehash: boolean;
}

/**
 * Password hashing at one set of argon2id parameters: what the services of a process use (`Services.passwords`).
 * Production uses {@link CURRENT_ARGON2_PARAMS}; the fast test tier injects cheaper ones so that a login costs
 * microseconds, while the production parameters keep their own tests.
 */
export interface PasswordHasher {
  readonly params: Argon2Params;
  /** Hashes a password with argon2id and a fresh salt, as a self-describing PHC string. */
  hash(password: string): Promise<string>;
  /** Checks a password against a stored PHC string in constant time. A malformed hash never matches. */
  verify(stored: string, password: string): Promise<PasswordCheck>;
  /**
   * A well-formed hash that no password matches, at these parameters: verifying an unknown user's password
   * against it costs what a real check costs, so the response time does not reveal who exists.
   */
  readonly dummyHash: string;
}

const sameParams = (a: Argon2Params, b: Argon2Params) =>
  a.memory === b.memory && a.passes === b.passes && a.parallelism === b.parallelism;

/** A {@link PasswordHasher} at `params` (the production parameters unless given). */
export function createPasswordHasher(params: Argon2Params = CURRENT_ARGON2_PARAMS): PasswordHasher {
  const dummyHash = encode(params, Buffer.alloc(SALT_LENGTH), Buffer.alloc(TAG_LENGTH));
  return {
    params,
    dummyHash,
    async hash(password) {
      const salt = randomBytes(SALT_LENGTH);
      return encode(params, salt, await derive(password, salt, params, TAG_LENGTH));
    },
    async verify(stored, password) {
      const match = PHC_PATTERN.exec(stored);
      if (!match) return { matches: false, needsRehash: false };
      const [, m, t, p, saltB64, hashB64] = match as unknown as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      const storedParams: Argon2Params = { memory: Number(m), passes: Number(t), parallelism: Number(p) };
      const expected = Buffer.from(hashB64, 'base64');
      const actual = await derive(password, Buffer.from(saltB64, 'base64'), storedParams, expected.length);
      const matches = stored !== dummyHash && timingSafeEqual(actual, expected);
      return { matches, needsRehash: !sameParams(storedParams, params) };
    },
  };
}

/** The production hasher, at {@link CURRENT_ARGON2_PARAMS}. */
const production = createPasswordHasher();

/** Hashes a password with argon2id and a fresh salt, as a self-describing PHC string. */
export async function hashPassword(password: string, params = CURRENT_ARGON2_PARAMS): Promise<string> {
  return sameParams(params, CURRENT_ARGON2_PARAMS)
    ? production.hash(password)
    : createPasswordHasher(params).hash(password);
}

/** The production hasher's dummy hash (see {@link PasswordHasher.dummyHash}). */
export const DUMMY_PASSWORD_HASH = production.dummyHash;

/** Checks a password against a stored PHC string, at the production parameters (see {@link PasswordHasher.verify}). */
export function verifyPassword(stored: string, password: string): Promise<PasswordCheck> {
  return production.verify(stored, password);
}
