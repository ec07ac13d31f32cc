import { createHash, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { KeyRing, SigningKey } from './keyring.ts';

export type TokenKind = 'access' | 'refresh';

/**
 * The claims of both token kinds (API.md, "Tokens"). `auth_time` is the session's login time; `client_id`
 * (RFC 9068, 2.2) is in access tokens only.
 */
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
  /** Access tokens only: RFC 8176 method values of the session's login (absent in tokens from before them). */
  amr?: string[];
  client_id?: string;
}

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 4096;
const TYP: Record<TokenKind, string> = { access: 'at+jwt', refresh: 'rt+jwt' };

/** The token failed verification. Deliberately carries no detail a client could use to probe the verifier. */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

/**
 * Who a token is from and for. The two kinds have different audiences (RFC 8725, 3.9), so that a verifier that
 * checks only the signature, `iss`, `aud` and `exp` (API Gateway's JWT authorizer, a downstream service) never
 * takes a refresh token for an access token.
 */
export interface TokenAudience {
  issuer: string;
  /** `aud` of access tokens: the APIs they are for. */
  audience: string;
  /** `aud` of refresh tokens: this service's own refresh endpoint; never equal to `audience`. */
  refreshAudience: string;
  /** `client_id` of access tokens (RFC 9068, 2.2): the client they were issued to. */
  clientId: string;
}

const audienceFor = (kind: TokenKind, aud: TokenAudience) =>
  kind === 'access' ? aud.audience : aud.refreshAudience;

export interface SignInput {
  sub: string;
  sid: string;
  authTime: number;
  /** Issue time, epoch seconds. */
  now: number;
  /** Expiry, epoch seconds; already clamped by the caller to the session's end. */
  exp: number;
  /**
   * Further claims of an access token (API.md: `roles`). Written before the registered claims, so they can
   * never replace `sub`, `aud`, `token_use` and the rest. Ignored for refresh tokens.
   */
  accessClaims?: Readonly<Record<string, unknown>>;
}

/**
 * Signs a token of `kind` with the ring's current key and algorithm; the header names the algorithm, the key id
 * and the token type (API.md, "Tokens").
 */
export function signToken(ring: KeyRing, kind: TokenKind, input: SignInput, aud: TokenAudience): string {
  const key = ring.keys.get(ring.currentKid) as SigningKey;
  const claims: TokenClaims = {
    ...(kind === 'access' ? input.accessClaims : undefined),
    sub: input.sub,
    sid: input.sid,
    jti: randomUUID(),
    iat: input.now,
    exp: input.exp,
    iss: aud.issuer,
    aud: audienceFor(kind, aud),
    token_use: kind,
    auth_time: input.authTime,
    ...(kind === 'access' && { client_id: aud.clientId }),
  };
  return jwt.sign(claims, key.signingKey, {
    algorithm: ring.algorithm,
    header: { alg: ring.algorithm, typ: TYP[kind], kid: key.kid },
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
 * Verifies a token of `kind`: the ring's one algorithm only (RFC 8725, 3.1), the key its `kid` names, issuer,
 * the audience of its kind, `typ` and `token_use`, and the claims jsonwebtoken alone lets through (no `exp`, a
 * future `iat`, an empty `sub`, no `jti`/`sid`; an access token without `client_id`).
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
        // For ES256/RS256 this is the public key, and jsonwebtoken refuses it as an HMAC secret; `algorithms`
        // below refuses any alg but the ring's before that (the HS256-with-public-key confusion, RFC 8725 2.1).
      } else provide(null, key.verificationKey);
    },
    {
      algorithms: [ring.algorithm],
      issuer: aud.issuer,
      audience: audienceFor(kind, aud),
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
    (claims.amr !== undefined &&
      !(Array.isArray(claims.amr) && claims.amr.every((value) => typeof value === 'string'))) ||
    (kind === 'access' && !nonEmptyString(claims.client_id)) ||
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
