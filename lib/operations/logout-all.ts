import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { sessionState } from '../store/sessions.ts';
import { verifyPresentedToken } from './authenticate.ts';

/** How many revocations logout-all sends at once. */
const REVOKE_CONCURRENCY = 10;

/**
 * Revokes every session of the user whose valid access token is presented; `session_revoked` when the caller's
 * own session is not live. The caller's own session is revoked last, so that a fault half-way (a 503) leaves it
 * live and the client can simply retry. Returns how many sessions were revoked.
 *
 * The caller's liveness is proven without a read of its own: the index lists it as live, and the final
 * conditional revocation of it succeeds only while it is (the same rule as `authenticate`).
 */
export async function logoutAll(services: Services, accessToken: string | undefined): Promise<number> {
  if (accessToken === undefined) {
    throw new ApiError('invalid_token', { message: 'An access token is required.', tokenPresented: false });
  }
  const { config, sessions } = services;
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  const { claims } = verifyPresentedToken(services, ring, 'access', accessToken, now);
  const notBefore = now - config.sessionMaxAge;
  const live = await sessions.listLiveSessionIds(claims.sub);
  if (!live.includes(claims.sid)) {
    // The index is eventually consistent: a session created a moment ago may not be in it yet. Only then is
    // the caller's own session read, consistently, before anything is revoked.
    const own = await sessions.getSession(claims.sid);
    if (sessionState(own, claims.sub, notBefore) !== 'live') throw new ApiError('session_revoked');
  }
  const others = live.filter((sid) => sid !== claims.sid);
  for (let i = 0; i < others.length; i += REVOKE_CONCURRENCY) {
    await Promise.all(others.slice(i, i + REVOKE_CONCURRENCY).map((sid) => sessions.revokeSession(sid, now)));
  }
  // Conditional: a session revoked since the index was read answers `session_revoked` (the others are gone
  // either way, as their owner asked through a token that was live a moment ago).
  if (!(await sessions.revokeLiveSession(claims.sid, now, notBefore))) throw new ApiError('session_revoked');
  return others.length + 1;
}
