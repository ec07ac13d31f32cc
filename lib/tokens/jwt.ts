import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { KeyRing } from './keyring.ts';

export type TokenKind = 'access' | 'refresh';

/** The claims of both token kinds (API.md, "Tokens"). `auth_time` is the session's login time. */
export interface TokenClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
  token_use: TokenKind;
  auth_time: number;
  /** Access tokens only: the user's roles when the token was issued (`[]` when none; API.md "Tokens"). */
  roles?: string[];
}

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;
const TYP: Record<TokenKind, string> = { access: 'at+jwt', refresh: 'rt+jwt' };
const ALGORITHMS: jwt.Algorithm[] = ['HS256'];

/** The token failed verification. Deliberately carries no detail a client could use to probe the verifier. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export interface TokenAudience {
  issuer: string;
  audience: string;
}

export interface SignInput {
  sub: string;
  sid: string;
  authTime: number;
  /** Issue time, epoch seconds. */
  now: number;
  /** Expiry, epoch seconds; already clamped by the caller to the session's end. */
  exp: number;
  /** The user's roles: put in access tokens only. */
  roles?: readonly string[];
}

/** Signs a token of `kind` with the ring's current key; the header names the key id and the token type. */
export function signToken(ring: KeyRing, kind: TokenKind, input: SignInput, aud: TokenAudience): string {
  const key = ring.keys.get(ring.currentKid) as KeyObject;
  const claims: TokenClaims = {
    sub: input.sub,
    sid: input.sid,
    jti: randomUUID(),
    iat: input.now,
    exp: input.exp,
    iss: aud.issuer,
    aud: aud.audience,
    token_use: kind,
    auth_time: input.authTime,
    ...(kind === 'access' && { roles: [...(input.roles ?? [])] }),
  };
  return jwt.sign(claims, key, {
    algorithm: 'HS256',
    header: { alg: 'HS256', typ: TYP[kind], kid: ring.currentKid },
  });
}

export interface VerifiedToken {
  claims: TokenClaims;
  /** True when `exp` has passed: genuine but expired. Callers decide whether that is acceptable. */
  expired: boolean;
}

const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const wholeNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value);

/**
 * Verifies a token of `kind`: HS256 only, the key its `kid` names, issuer, audience, `typ` and `token_use`,
 * and the claims jsonwebtoken alone lets through (no `exp`, a future `iat`, an empty `sub`, no `jti`/`sid`).
 * Expiry is reported rather than thrown, so that refresh and logout can judge an expired but genuine token.
 * Throws {@link InvalidTokenError} on any failure.
 */
export function verifyToken(
  ring: KeyRing,
  kind: TokenKind,
  token: unknown,
  aud: TokenAudience,
  now: number,
): VerifiedToken {
  // Checked before any parsing so an oversized token costs nothing.
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new InvalidTokenError('token missing or too long');
  }
  let outcome: { error: unknown; decoded: jwt.Jwt | undefined } | undefined;
  jwt.verify(
    token,
    (header, provide) => {
      // A map lookup only: a kid never names a file or URL, and `jku`/`x5u` headers are never followed.
      const key = typeof header.kid === 'string' ? ring.keys.get(header.kid) : undefined;
      // No extension is understood here, so a token that marks one critical is refused (RFC 7515, 4.1.11).
      if (!key || header.typ !== TYP[kind] || 'crit' in header) {
        provide(new InvalidTokenError('unknown kid, wrong typ or a critical extension'));
      } else provide(null, key);
    },
    {
      algorithms: ALGORITHMS,
      issuer: aud.issuer,
      audience: aud.audience,
      ignoreExpiration: true,
      clockTimestamp: now,
      complete: true,
    },
    (error, decoded) => {
      outcome = { error, decoded: decoded as jwt.Jwt | undefined };
    },
  );
  // jsonwebtoken calls back synchronously when the key is provided synchronously; guard that assumption.
  if (!outcome) throw new Error('jsonwebtoken.verify did not complete synchronously');
  if (outcome.error || !outcome.decoded)
    throw new InvalidTokenError('signature or registered claims invalid');

  const claims = outcome.decoded.payload as Partial<TokenClaims>;
  if (
    typeof claims !== 'object' ||
    claims.token_use !== kind ||
    !nonEmptyString(claims.sub) ||
    !nonEmptyString(claims.sid) ||
    !nonEmptyString(claims.jti) ||
    !wholeNumber(claims.exp) ||
    !wholeNumber(claims.iat) ||
    !wholeNumber(claims.auth_time) ||
    (claims.roles !== undefined &&
      !(Array.isArray(claims.roles) && claims.roles.every((role) => typeof role === 'string'))) ||
    claims.iat > now
  ) {
    throw new InvalidTokenError('required claims missing or invalid');
  }
  return { claims: claims as TokenClaims, expired: claims.exp <= now };
}

/** The hash under which a refresh token is stored and matched: the database never holds the token itself. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
