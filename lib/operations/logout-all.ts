import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { type TokenClaims, verifyToken } from '../tokens/jwt.ts';
import { audienceOf } from '../tokens/pair.ts';

/** How many revocations logout-all sends at once. */
const REVOKE_CONCURRENCY = 10;

/**
 * Revokes every session of the user whose valid access token is presented; `session_revoked` when the caller's
 * own session is not live. The caller's own session is revoked last, so that a fault half-way (a 503) leaves it
 * live and the client can simply retry. Returns how many sessions were revoked.
 */
export async function logoutAll(services: Services, accessToken: string | undefined): Promise<number> {
  if (accessToken === undefined) {
    throw new ApiError('invalid_token', { message: 'An access token is required.', tokenPresented: false });
  }
  const { config, sessions } = services;
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  let claims: TokenClaims;
  try {
    const verified = verifyToken(ring, 'access', accessToken, audienceOf(config), now);
    if (verified.expired) throw new Error('expired');
    claims = verified.claims;
  } catch {
    throw new ApiError('invalid_token', { message: 'The access token is not valid or has expired.' });
  }
  const notBefore = now - config.sessionMaxAge;
  const live = await sessions.listLiveSessionIds(claims.sub);
  if (!live.includes(claims.sid)) {
    // The index is eventually consistent: a session created a moment ago may not be in it yet. Only then is
    // the caller's own session read, consistently, before anything is revoked.
    const own = await sessions.getSession(claims.sid);
    if (!own || own.revoked || own.userId !== claims.sub || own.authTime <= notBefore) {
      throw new ApiError('session_revoked');
    }
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
