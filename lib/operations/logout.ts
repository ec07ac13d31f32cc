import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import type { TokenKind } from '../tokens/jwt.ts';
import { verifyPresentedToken } from './authenticate.ts';

/**
 * Logs out the session(s) of the tokens presented (an access token, a refresh token, or both): afterwards the
 * authorizer refuses its access tokens and its refresh token gets `session_revoked`. An expired but genuine
 * token still revokes its session; a token that fails verification is `invalid_token`. Idempotent.
 */
export async function logout(
  services: Services,
  tokens: { accessToken?: string | undefined; refreshToken?: string | undefined },
): Promise<void> {
  const presented: [TokenKind, string][] = [];
  if (tokens.accessToken !== undefined) presented.push(['access', tokens.accessToken]);
  if (tokens.refreshToken !== undefined) presented.push(['refresh', tokens.refreshToken]);
  if (presented.length === 0) {
    throw new ApiError('invalid_request', {
      message: 'Send an access token (Authorization: Bearer) or a refreshToken.',
    });
  }
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  const sids = new Set<string>();
  for (const [kind, token] of presented) {
    sids.add(verifyPresentedToken(services, ring, kind, token, now, { acceptExpired: true }).claims.sid);
  }
  await Promise.all([...sids].map((sid) => services.sessions.revokeSession(sid, now)));
}
