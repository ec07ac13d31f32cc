import { timingSafeEqual } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError, serviceUnavailable } from '../errors.ts';
import { logEvent } from '../observability/log.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { type Session, sessionState } from '../store/sessions.ts';
import { decodeAmr } from '../tokens/amr.ts';
import { hashRefreshToken, type TokenClaims } from '../tokens/jwt.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { audienceOf, mintPair, reissuedPair, sessionEnd, type TokenPair } from '../tokens/pair.ts';
import { openSuccessorPair, sealSuccessorPair } from '../tokens/successor.ts';
import { verifyPresentedToken } from './authenticate.ts';

/** `POST /auth/refresh`'s input (API.md). */
export interface RefreshInput {
  refreshToken: string;
  /** Optional: lets an expired refresh token through while this access token of the same session is valid. */
  accessToken?: string | undefined;
}

/**
 * How many conditional writes one refresh may try. A write fails while a fresh read then passes every check
 * only if something changed the session in between without rotating it; that cannot repeat without end, and
 * a refresh never loops: past this bound it is a 503 (nothing written, no token).
 */
const MAX_ROTATION_ATTEMPTS = 2;

const sameHash = (a: string | undefined, b: string) =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Rotates a session's refresh token and issues a new pair, applying API.md's checks in their order
 * (RFC 6749 §6, RFC 9700 §4.14.2: refresh-token rotation with reuse detection). The happy path is one
 * consistent read of the session with its user's account (whole-user revocation, the roles for the new access
 * token) and one conditional write; only when the write fails is the session read again.
 *
 * Idempotent within `REFRESH_REUSE_GRACE` (checks 5 and 7): the previous token, presented within that many
 * seconds of the rotation that replaced it (a retry whose answer was lost, racing tabs, a request that lost the
 * race), is answered `200` with the very pair that rotation issued, opened from the session's sealed copy with
 * the presented token, and nothing is written. Any older token revokes the whole session
 * (`401 refresh_token_reused`). Errors: `401 invalid_token | session_revoked | token_expired |
 * refresh_token_reused`, `503` when DynamoDB or SSM fails (never with a token that was not stored).
 */
export async function refresh(services: Services, input: RefreshInput): Promise<TokenPair> {
  const { config, sessions } = services;
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  // Check 2; expiry is judged by check 6.
  const { claims, expired } = verifyPresentedToken(services, ring, 'refresh', input.refreshToken, now, {
    acceptExpired: true,
  });
  const presented = { refreshToken: input.refreshToken, hash: hashRefreshToken(input.refreshToken) };
  // A session is live while it began after this instant (check 4).
  const notBefore = now - config.sessionMaxAge;
  // Check 6, decided locally: the original design's "access still valid, refresh expired" case.
  const usable = !expired || accessTokenExtends(services, ring, input.accessToken, claims, now);
  // The session with its user's account, in one consistent request: whole-user revocation is honoured by the
  // one liveness rule (check 3), and the new access token carries the user's roles as they are now.
  const read = await sessions.getSessionWithAccount(claims.sid, claims.sub);
  const { account } = read;
  // What the new tokens say of the login is the session's: its `auth_time` and `amr` (a refresh is no login).
  const identity = (stored: Session) => ({
    userId: claims.sub,
    sid: claims.sid,
    authTime: claims.auth_time,
    amr: decodeAmr(stored.amr),
    roles: account.roles,
  });
  // What the session knows of the pairs it issues: the sealed copy is compressed against it and bound to it.
  const sealContext = {
    sid: claims.sid,
    userId: claims.sub,
    authTime: claims.auth_time,
    algorithm: ring.algorithm,
    audience: audienceOf(config),
  };
  const sessionTooOld = () =>
    new ApiError('token_expired', { message: 'The session has reached its maximum age; log in again.' });

  let stored = read.session;
  for (let attempt = 0; attempt < MAX_ROTATION_ATTEMPTS; attempt += 1) {
    const state = sessionState(stored, account, claims.sub, notBefore);
    // Past its end the session's item may already be swept by the TTL; the answer must not depend on that.
    if (state === 'missing' && sessionEnd(config, claims.auth_time) <= now) throw sessionTooOld();
    if (state === 'missing' || state === 'revoked' || !stored) throw new ApiError('session_revoked');
    if (state === 'too_old') throw sessionTooOld();
    if (sameHash(stored.refreshHash, presented.hash)) {
      if (!usable)
        throw new ApiError('token_expired', { message: 'The refresh token has expired; log in again.' });
      // The whole pair is minted before the write and sealed into it, so that whoever presents this token
      // again within the grace window gets these very strings. None of it leaves unless the write succeeds.
      const pair = mintPair(config, ring, identity(stored), now);
      const rotated = await sessions.rotateRefreshToken({
        sid: claims.sid,
        presentedHash: presented.hash,
        newHash: hashRefreshToken(pair.refreshToken),
        sealedSuccessor: sealSuccessorPair(pair, presented, sealContext),
        now,
      });
      if (rotated) {
        countMetric(metricNames.refresh);
        return reissuedPair(pair, now);
      }
      // The write lost to a change of the session since the read (a racing rotation, a revocation, our own
      // write whose answer the SDK lost): judge again on a fresh read (bounded).
      stored = await sessions.getSession(claims.sid);
      continue;
    }
    if (
      sameHash(stored.previousRefreshHash, presented.hash) &&
      now - stored.rotatedAt <= config.refreshReuseGrace
    ) {
      // Checks 5 and 7: a retry whose answer was lost, a racing tab, or a racer that lost the write (our own
      // write, applied but its answer lost to the SDK, lands here too). Answer with the pair the rotation
      // issued; nothing is written, and the session stays as it is.
      // The sealed pair is the current one: the rotation wrote it with `refreshHash` in one write, and only the
      // presented (previous) token opens it, bound to this session id and that token's hash.
      const successor = openSuccessorPair(stored.sealedSuccessor, presented, sealContext);
      if (successor) {
        countMetric(metricNames.refreshRetried);
        return reissuedPair(successor, now);
      }
      // Only a rotation written by an earlier version of the service has no sealed pair: answer as it did.
      throw new ApiError('refresh_conflict');
    }
    // Check 5: a replay of a rotated-out token. Whoever holds it, the session can no longer be trusted.
    await sessions.revokeSession(claims.sid, now);
    countMetric(metricNames.reuseDetected);
    // Ids, not tokens: enough to find the user and the session the alarm is about.
    logEvent('warn', 'refresh token reuse detected; the session was revoked', {
      userId: claims.sub,
      sessionId: claims.sid,
    });
    throw new ApiError('refresh_token_reused');
  }
  throw serviceUnavailable(new Error('the rotation kept losing to concurrent changes of the session'));
}

/** Whether an access token sent along is valid, unexpired and of the same user and session (else ignored). */
function accessTokenExtends(
  services: Services,
  ring: KeyRing,
  accessToken: string | undefined,
  refreshClaims: TokenClaims,
  now: number,
): boolean {
  if (accessToken === undefined) return false;
  try {
    const access = verifyPresentedToken(services, ring, 'access', accessToken, now);
    return access.claims.sub === refreshClaims.sub && access.claims.sid === refreshClaims.sid;
  } catch {
    // API.md: an access token that fails verification is ignored by check 6, never an error.
    return false;
  }
}
