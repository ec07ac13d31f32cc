import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import { passwordWeakness } from '../passwords/strength.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkPassword } from './check-password.ts';

/** `POST /auth/password`'s input (API.md). */
export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
}

/**
 * Changes the caller's password, re-authenticated by the current one (a wrong one counts toward the lockout, as
 * at login), and revokes every other session of the user; the calling session stays live.
 *
 * Order, so that a fault at any step (a 503) leaves something the client can simply retry: first every other
 * session is revoked (the user moves to the next generation, carrying the caller's session over, in one
 * write), then the caller's session item joins the new generation's index partition, and last the hash is
 * replaced. Until that last write the current password is still the old one, so a retry re-authenticates.
 *
 * Requests: the authentication read, the password check's (one read, more with failures on record), and three
 * writes. Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`, `400 weak_password`,
 * `400 invalid_request`; `401 session_revoked` when a revocation of the caller's session raced this change
 * (the password is then unchanged).
 */
export async function changePassword(
  services: Services,
  accessToken: string | undefined,
  change: PasswordChange,
  client: ClientInfo,
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId, account, session } = caller;
  // Register's rules, on the NFKC form the hash is made from (API.md "Passwords"). Checked before the current
  // password: a weak choice costs no attempt of the lockout and no argon2 run.
  const newPassword = normalisePassword(change.newPassword);
  const weakness = passwordWeakness(newPassword, username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });
  const checked = await checkPassword(services, { username, password: change.currentPassword, client });
  // The name now belongs to another account (this one was deleted and the name taken): not this user's password.
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  const passwordHash = await services.passwords.hash(newPassword);

  const raced = () => new ApiError('session_revoked', { message: 'The session was revoked meanwhile.' });
  if (!(await services.accounts.revokeAllBut(userId, account.generation, sessionId))) throw raced();
  if (
    !(await services.sessions.carryOver(sessionId, userId, session.generation ?? 0, account.generation + 1))
  )
    throw raced();
  if (!(await services.users.replacePasswordHash(username, userId, passwordHash))) throw raced();
}
