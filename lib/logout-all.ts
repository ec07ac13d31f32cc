import { nowSeconds } from './config.ts';
import { ApiError } from './errors.ts';
import type { Services } from './services.ts';
import { audienceOf } from './token-pair.ts';
import { type TokenClaims, verifyToken } from './tokens.ts';

/** How many revocations logout-all sends at once. */
const REVOKE_CONCURRENCY = 10;

/**
 * Revokes every session of the user whose valid access token is presented. The caller's own session is
 * revoked first, conditionally: if it is not live, nothing else is touched and the answer is `session_revoked`.
 * Returns how many sessions were revoked.
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
  if (!(await sessions.revokeLiveSession(claims.sid, now, now - config.sessionMaxAge))) {
    throw new ApiError('session_revoked');
  }
  const others = (await sessions.listLiveSessionIds(claims.sub)).filter((sid) => sid !== claims.sid);
  for (let i = 0; i < others.length; i += REVOKE_CONCURRENCY) {
    await Promise.all(others.slice(i, i + REVOKE_CONCURRENCY).map((sid) => sessions.revokeSession(sid, now)));
  }
  return others.length + 1;
}
