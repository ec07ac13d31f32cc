import { nowSeconds } from '../config.ts';
import type { Services } from '../services.ts';
import { verifyToken } from '../tokens/jwt.ts';
import { audienceOf } from '../tokens/pair.ts';

/** Who an authorized request comes from: what the authorizer hands to the protected route. */
export interface Principal {
  userId: string;
  username: string;
  sessionId: string;
}

/** Why a request was refused, for metrics and logs only: the client always sees a plain 401. */
export class AuthorizationRefused extends Error {
  override name = 'AuthorizationRefused';
}

/**
 * Decides whether an access token may call a protected route: it must verify, be unexpired, and its session
 * must exist (read consistently), be neither revoked nor past `SESSION_MAX_AGE`, and belong to its `sub`.
 * Throws on anything else, including a fault of DynamoDB or SSM: there is no allow on an error.
 */
export async function authorize(services: Services, accessToken: string | undefined): Promise<Principal> {
  if (accessToken === undefined) throw new AuthorizationRefused('no token');
  const ring = await services.keys.getKeyRing();
  const now = nowSeconds();
  let verified: ReturnType<typeof verifyToken>;
  try {
    verified = verifyToken(ring, 'access', accessToken, audienceOf(services.config), now);
  } catch {
    throw new AuthorizationRefused('invalid token');
  }
  if (verified.expired) throw new AuthorizationRefused('expired token');
  const { sub, sid } = verified.claims;
  const session = await services.sessions.getSession(sid);
  if (!session) throw new AuthorizationRefused('no session');
  if (session.revoked) throw new AuthorizationRefused('session revoked');
  if (session.userId !== sub) throw new AuthorizationRefused('session of another user');
  if (session.authTime <= now - services.config.sessionMaxAge)
    throw new AuthorizationRefused('session too old');
  return { userId: sub, username: session.username, sessionId: sid };
}
