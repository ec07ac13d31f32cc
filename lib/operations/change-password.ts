import { ApiError } from '../errors.ts';
import { hashPassword, MAX_PASSWORD_LENGTH, passwordWeakness } from '../passwords/argon2.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkPassword } from './login.ts';

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
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId, account, session } = caller;
  if (change.newPassword.length > MAX_PASSWORD_LENGTH) {
    throw new ApiError('invalid_request', {
      message: `The password must be at most ${MAX_PASSWORD_LENGTH} characters.`,
    });
  }
  // Checked before the current password: a weak choice costs no attempt of the lockout and no argon2 run.
  const weakness = passwordWeakness(change.newPassword, username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });
  const checked = await checkPassword(services, username, change.currentPassword);
  // The name now belongs to another account (this one was deleted and the name taken): not this user's password.
  if (checked.account.userId !== userId) throw new ApiError('session_revoked');
  const passwordHash = await hashPassword(change.newPassword);

  const raced = () => new ApiError('session_revoked', { message: 'The session was revoked meanwhile.' });
  if (!(await services.accounts.revokeAllBut(userId, account.generation, sessionId))) throw raced();
  if (
    !(await services.sessions.carryOver(sessionId, userId, session.generation ?? 0, account.generation + 1))
  )
    throw raced();
  if (!(await services.users.replacePasswordHash(username, userId, passwordHash))) throw raced();
}
