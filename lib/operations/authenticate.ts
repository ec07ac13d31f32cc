import { type Config, nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { AccountState } from '../store/account-state.ts';
import { type Session, sessionState } from '../store/session-state.ts';
import type { SessionStore } from '../store/sessions.ts';
import { type TokenClaims, type TokenKind, verifyToken } from '../tokens/jwt.ts';
import type { KeyRingSource } from '../tokens/key-source.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { audienceOf } from '../tokens/pair.ts';

/**
 * What authenticating a token needs: the configuration, the key ring and the one read of a session with its
 * account. `Services` has it (every function), and so has the authorizer's `AuthorizerServices`, which reads
 * without the SDK.
 */
export interface AuthenticationServices {
  config: Config;
  keys: KeyRingSource;
  sessions: Pick<SessionStore, 'getSessionWithAccount'>;
}

/** Who an authenticated request comes from: what the authorizer hands to the protected route. */
export interface Principal {
  userId: string;
  username: string;
  sessionId: string;
  /** The roles the access token carries (`[]` when none): those of the user when the token was issued. */
  roles: string[];
  /** RFC 8176 method values of the session's login, as the token carries them (`["pwd"]` for older tokens). */
  amr: string[];
  /** Epoch seconds of that login (the token's `auth_time`). */
  authTime: number;
}

/**
 * Verifies a presented token of `kind` (RFC 8725 §3: algorithm, issuer, audience and type pinned; see
 * `verifyToken`) and returns its claims. Throws `401 invalid_token` when it does not verify, or when it has
 * expired unless `acceptExpired` (logout and refresh judge an expired but genuine token themselves). The
 * verifier's reason is kept as the error's `cause`, for logs only.
 */
export function verifyPresentedToken(
  services: Pick<AuthenticationServices, 'config'>,
  ring: KeyRing,
  kind: TokenKind,
  token: string,
  now: number,
  { acceptExpired = false } = {},
): { claims: TokenClaims; expired: boolean } {
  let verified: ReturnType<typeof verifyToken>;
  try {
    verified = verifyToken(ring, kind, token, audienceOf(services.config), now);
  } catch (cause) {
    throw new ApiError('invalid_token', { message: `The ${kind} token is not valid.`, cause });
  }
  if (verified.expired && !acceptExpired)
    throw new ApiError('invalid_token', { message: `The ${kind} token has expired.` });
  return verified;
}

/**
 * Authenticates a request by its access token: it must verify and be unexpired, and its session and its user's
 * account state (read together in one consistent request, so a logout or a whole-user revocation is seen at
 * once) must be live by the one rule of `sessionState`. This is what every operation that takes an access
 * token calls. Returns the principal with the token's claims and what was read.
 *
 * Errors: `401 invalid_token` (no token, or one that does not verify or has expired; `tokenPresented` says
 * which for RFC 6750), `401 session_revoked` (the session is gone, revoked or past `SESSION_MAX_AGE`), `503`
 * when DynamoDB or SSM fails.
 */
export async function authenticate(
  services: AuthenticationServices,
  accessToken: string | undefined,
): Promise<Principal & { claims: TokenClaims; session: Session; account: AccountState; notBefore: number }> {
  if (accessToken === undefined) {
    throw new ApiError('invalid_token', { message: 'An access token is required.', tokenPresented: false });
  }
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  const { claims } = verifyPresentedToken(services, ring, 'access', accessToken, now);
  const { session, account } = await services.sessions.getSessionWithAccount(claims.sid, claims.sub);
  const notBefore = now - services.config.sessionMaxAge;
  const state = sessionState(session, account, claims.sub, notBefore);
  if (state !== 'live' || !session) {
    throw new ApiError('session_revoked', { cause: new Error(`session ${state}`) });
  }
  return {
    userId: claims.sub,
    username: session.username,
    sessionId: claims.sid,
    roles: claims.roles ?? [],
    amr: claims.amr ?? ['pwd'],
    authTime: claims.auth_time,
    claims,
    session,
    account,
    notBefore,
  };
}
