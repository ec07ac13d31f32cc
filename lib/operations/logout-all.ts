import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';

/**
 * Revokes every session of the user whose valid access token (of a live session) is presented, the caller's
 * own included: the user moves to its next revocation generation in one write. Every session that existed is
 * then refused everywhere from the next request on, however recently it was created: nothing walks the
 * (eventually consistent) index, and nothing is written per session. Two requests whatever the number of
 * sessions: the consistent read of session and account, and that write. Racing calls (a double click, a
 * retry whose answer was lost) each succeed; the user just moves on more than one generation.
 *
 * Errors: `401 invalid_token`, `401 session_revoked`, `503` on a fault (nothing was written, or the
 * revocation is complete: a retry is refused as `session_revoked` only if it already took effect).
 */
export async function logoutAll(services: Services, accessToken: string | undefined): Promise<void> {
  const { userId } = await authenticate(services, accessToken);
  await services.accounts.revokeAllSessions(userId);
}
