import type { AmrValue } from './amr.ts';
import { signToken, type TokenAudience, type TokenKind } from './jwt.ts';
import type { KeyRing } from './keyring.ts';

/** The body of a successful login or refresh (API.md). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds the access token lives: at most `ACCESS_TOKEN_TTL`, less near the session's end. */
  expiresIn: number;
  /** Seconds the refresh token lives: at most `REFRESH_TOKEN_TTL`, less near the session's end. */
  refreshExpiresIn: number;
}

export interface SessionIdentity {
  userId: string;
  sid: string;
  /** Epoch seconds of the login that began the session: when the user last proved who they are (`auth_time`). */
  authTime: number;
  /** How they proved it at that login (RFC 8176; API.md "Tokens"): `["pwd"]` when absent. */
  amr?: readonly AmrValue[];
  /** The user's roles, for the access token (read from the account at login and at each refresh). */
  roles?: readonly string[];
}

/**
 * What sessions and their tokens are minted under, in seconds: the token lifetimes, the session's absolute
 * lifetime, and the issuer and audiences every token names. The service's `Config` is one; this module asks for
 * no more of it.
 */
export interface TokenPolicy {
  /** `ACCESS_TOKEN_TTL`: seconds an access token lives (less near the session's end). */
  accessTokenTtl: number;
  /** `REFRESH_TOKEN_TTL`: seconds a refresh token lives (less near the session's end). */
  refreshTokenTtl: number;
  /** `SESSION_MAX_AGE`: seconds a session lives after its login, however it is refreshed. */
  sessionMaxAge: number;
  issuer: string;
  audience: string;
  refreshAudience: string;
  clientId: string;
}

export const audienceOf = (policy: TokenPolicy): TokenAudience => ({
  issuer: policy.issuer,
  audience: policy.audience,
  refreshAudience: policy.refreshAudience,
  clientId: policy.clientId,
});

/** The epoch second at which a session that began at `authTime` ends, however it is refreshed. */
export const sessionEnd = (policy: TokenPolicy, authTime: number) => authTime + policy.sessionMaxAge;

/** Mints one token of `kind` for the session; its `exp` never reaches past the session's end. */
export function mintToken(
  policy: TokenPolicy,
  ring: KeyRing,
  kind: TokenKind,
  session: SessionIdentity,
  now: number,
): { token: string; expiresIn: number } {
  const ttl = kind === 'access' ? policy.accessTokenTtl : policy.refreshTokenTtl;
  const exp = Math.min(now + ttl, sessionEnd(policy, session.authTime));
  const token = signToken(
    ring,
    kind,
    {
      sub: session.userId,
      sid: session.sid,
      authTime: session.authTime,
      now,
      exp,
      // API.md: `roles` in every access token, `[]` when none.
      // `amr` (RFC 8176, OpenID Connect Core §2) as the login recorded it; a refresh keeps it.
      accessClaims: { roles: [...(session.roles ?? [])], amr: [...(session.amr ?? ['pwd'])] },
    },
    audienceOf(policy),
  );
  return { token, expiresIn: exp - now };
}

/** Completes a token pair around a refresh token whose hash has already been stored. */
export function completePair(
  policy: TokenPolicy,
  ring: KeyRing,
  session: SessionIdentity,
  refresh: { token: string; expiresIn: number },
  now: number,
): TokenPair {
  const access = mintToken(policy, ring, 'access', session, now);
  return {
    accessToken: access.token,
    refreshToken: refresh.token,
    tokenType: 'Bearer',
    expiresIn: access.expiresIn,
    refreshExpiresIn: refresh.expiresIn,
  };
}

/**
 * Mints a whole pair at `now` (both tokens clamped to the session's end), before anything is stored: a refresh
 * seals it into the same write that rotates the session, so that a retry can be answered with it.
 */
export function mintPair(
  policy: TokenPolicy,
  ring: KeyRing,
  session: SessionIdentity,
  now: number,
): TokenPair & { accessExp: number; refreshExp: number } {
  const refresh = mintToken(policy, ring, 'refresh', session, now);
  const pair = completePair(policy, ring, session, refresh, now);
  return { ...pair, accessExp: now + pair.expiresIn, refreshExp: now + pair.refreshExpiresIn };
}

/**
 * The body that answers again with a pair issued earlier (a retry within `REFRESH_REUSE_GRACE`): the same
 * strings, with each token's remaining lifetime at `now` (never negative).
 */
export function reissuedPair(
  pair: { accessToken: string; refreshToken: string; accessExp: number; refreshExp: number },
  now: number,
): TokenPair {
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    tokenType: 'Bearer',
    expiresIn: Math.max(0, pair.accessExp - now),
    refreshExpiresIn: Math.max(0, pair.refreshExp - now),
  };
}
