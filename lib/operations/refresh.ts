import { timingSafeEqual } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { logEvent } from '../observability/log.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { sessionState } from '../store/sessions.ts';
import { hashRefreshToken, type TokenClaims } from '../tokens/jwt.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';
import { verifyPresentedToken } from './authenticate.ts';

/** `POST /auth/refresh`'s input (API.md). */
export interface RefreshInput {
  refreshToken: string;
  /** Optional: lets an expired refresh token through while this access token of the same session is valid. */
  accessToken?: string | undefined;
}

const sameHash = (a: string | undefined, b: string) =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Rotates a session's refresh token and issues a new pair, applying API.md's checks in their order. The happy
 * path is one conditional write; only when it fails is the session read to find which check failed first.
 * Presenting a rotated-out token (other than a retry within the grace period) revokes the whole session.
 */
export async function refresh(services: Services, input: RefreshInput): Promise<TokenPair> {
  const { config, sessions } = services;
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  // Check 2; expiry is judged by check 6.
  const { claims, expired } = verifyPresentedToken(services, ring, 'refresh', input.refreshToken, now, {
    acceptExpired: true,
  });
  const presentedHash = hashRefreshToken(input.refreshToken);
  // A session is live while it began after this instant (check 4).
  const notBefore = now - config.sessionMaxAge;
  // Check 6, decided locally: the original design's "access still valid, refresh expired" case.
  const usable = !expired || accessTokenExtends(services, ring, input.accessToken, claims, now);
  const session = { userId: claims.sub, sid: claims.sid, authTime: claims.auth_time };

  let next: { token: string; expiresIn: number; hash: string } | undefined;
  if (usable && sessionEnd(config, claims.auth_time) > now) {
    const minted = mintToken(config, ring, 'refresh', session, now);
    next = { ...minted, hash: hashRefreshToken(minted.token) };
    const rotated = await sessions.rotateRefreshToken({
      sid: claims.sid,
      presentedHash,
      newHash: next.hash,
      now,
      notBefore,
    });
    if (rotated) {
      countMetric(metricNames.refresh);
      return completePair(config, ring, session, next, now);
    }
  }

  // Failure path: read the session and answer with the first check that fails.
  const stored = await sessions.getSession(claims.sid);
  if (next && stored && !stored.revoked && sameHash(stored.refreshHash, next.hash)) {
    // Our own write landed but its answer was lost (the SDK retried it and the retry's condition failed):
    // this request did rotate the session, so it gets the pair it stored rather than a 409.
    countMetric(metricNames.refresh);
    return completePair(config, ring, session, next, now);
  }
  const sessionTooOld = () =>
    new ApiError('token_expired', { message: 'The session has reached its maximum age; log in again.' });
  const state = sessionState(stored, claims.sub, notBefore);
  // Past its end the session's item may already be swept by the TTL; the answer must not depend on that.
  if (state === 'missing' && sessionEnd(config, claims.auth_time) <= now) throw sessionTooOld();
  if (state === 'missing' || state === 'revoked' || !stored) throw new ApiError('session_revoked');
  if (state === 'too_old') throw sessionTooOld();
  if (!sameHash(stored.refreshHash, presentedHash)) {
    if (
      sameHash(stored.previousRefreshHash, presentedHash) &&
      now - stored.rotatedAt <= config.refreshReuseGrace
    ) {
      // A retry or a racing tab: the session is left untouched; the client should use the newest pair.
      throw new ApiError('refresh_conflict');
    }
    // A replay of a rotated-out token: whoever holds it, the session can no longer be trusted.
    await sessions.revokeSession(claims.sid, now);
    countMetric(metricNames.reuseDetected);
    // Ids, not tokens: enough to find the user and the session the alarm is about.
    logEvent('warn', 'refresh token reuse detected; the session was revoked', {
      userId: claims.sub,
      sessionId: claims.sid,
    });
    throw new ApiError('refresh_token_reused');
  }
  if (!usable)
    throw new ApiError('token_expired', { message: 'The refresh token has expired; log in again.' });
  // Every check passes on a fresh read, so the write lost to a request that changed the session meanwhile.
  throw new ApiError('refresh_conflict');
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
