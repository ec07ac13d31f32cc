import { ApiError } from '../errors.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import { passwordWeakness } from '../passwords/strength.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';
import { finishReplacement, replacePassword } from './replace-password.ts';

/** `POST /auth/password`'s input (API.md). */
export interface PasswordChange {
  currentPassword: string;
  newPassword: string;
}

/**
 * Changes the caller's password, re-authenticated by the current one (`checkFromSession`: judged by this
 * session's own failure count, never the name's), and revokes every other session of the user; the calling session stays live. The replacement is
 * `replacePassword`'s: one write puts the new hash in place and ends every other session, so no login with the
 * old password that overlaps the change keeps a session.
 *
 * Repeats answer as the first did: a retry after a lost answer or a 503, or the same change submitted twice at
 * once, is recognised (the caller's session made the last replacement and the new password already is the
 * password) and completes what the first left undone, then `204`; it is never `401`.
 *
 * Requests: the authentication read, the password check's (a reservation on the session item, the name's and
 * the account's items in one read, the reservation's release), and three writes. Errors: as `authenticate`; `401 invalid_credentials`,
 * `429 too_many_attempts`, `400 weak_password`, `400 invalid_request`; `401 session_revoked` when a whole-user
 * revocation of the caller's session came before the change (the password is then unchanged).
 */
export async function changePassword(
  services: Services,
  accessToken: string | undefined,
  change: PasswordChange,
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId, account, session } = caller;
  // Register's rules, on the NFKC form the hash is made from (API.md "Passwords"). Checked before the current
  // password: a weak choice costs no attempt of the lockout and no argon2 run.
  const newPassword = normalisePassword(change.newPassword);
  const weakness = passwordWeakness(newPassword, username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });
  const checked = await checkFromSession(services, caller, change.currentPassword, { newPassword });
  // The name now belongs to another account (this one was deleted and the name taken): not this user's password.
  if (checked.account.userId !== userId) throw new ApiError('session_revoked');
  const sessionGeneration = session.generation ?? 0;
  if (checked.repeated) {
    await finishReplacement(services, {
      userId,
      username,
      passwordHash: checked.passwordHash,
      carry: { sessionId, from: sessionGeneration, to: checked.state.generation },
    });
    return;
  }
  const passwordHash = await services.passwords.hash(newPassword);
  const replaced = await replacePassword(services, {
    userId,
    username,
    passwordHash,
    keep: { sessionId, generation: account.generation, sessionGeneration },
  });
  if (replaced) return;
  // The same change, submitted twice at once, committed first by the twin: answered as the twin is.
  const { state, passwordHash: held } = await services.accounts.getCredentials(userId);
  if (
    held !== undefined &&
    state.carriedSession === sessionId &&
    state.generation === account.generation + 1 &&
    (await services.passwords.verify(held, newPassword)).matches
  ) {
    await finishReplacement(services, {
      userId,
      username,
      passwordHash: held,
      carry: { sessionId, from: sessionGeneration, to: state.generation },
    });
    return;
  }
  throw new ApiError('session_revoked', { message: 'The session was revoked meanwhile.' });
}
