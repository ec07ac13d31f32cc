import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';

/** Session ids are UUIDs (login mints them with `randomUUID`); anything else cannot be one of the caller's. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Revokes one session of the caller (`DELETE /auth/sessions/{sessionId}`): its tokens die as at logout; the
 * caller's own current session may be revoked too (a logout). One conditional write scoped to the caller's
 * user id, so that nobody can revoke, or learn of, another user's session.
 *
 * Errors: as `authenticate`; `404 not_found` when the id is not one of the caller's sessions, whether or not it
 * exists. Revoking an already revoked own session succeeds again.
 */
export async function revokeSession(
  services: Services,
  accessToken: string | undefined,
  sessionId: string | undefined,
): Promise<void> {
  const { userId } = await authenticate(services, accessToken);
  const notYours = () => new ApiError('not_found', { message: 'No such session.' });
  if (sessionId === undefined || !SESSION_ID.test(sessionId)) throw notYours();
  if (!(await services.sessions.revokeOwnSession(sessionId, userId, nowSeconds()))) throw notYours();
}
