import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { normaliseEmail } from '../mail/address.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkPassword } from './check-password.ts';
import { claimEmail } from './email-claim.ts';

/**
 * Sets the caller's address (`POST /auth/email`), re-authenticated by the password (a wrong one counts toward
 * the lockout, as at login). The new address is unverified; a verification mail goes to it and a notice to the
 * previous one. Giving the address the account already has sends its verification mail again (if it is not
 * verified) and changes nothing.
 *
 * Order: the new address is claimed (`409 email_taken`), then the account item names it, then the old claim
 * is given back (a failure there leaves a stale claim, which frees itself: see `claimEmail`), then the mails
 * are queued.
 *
 * Errors: as `authenticate`; `400 invalid_request` (a malformed address), `401 invalid_credentials`,
 * `429 too_many_attempts`, `409 email_taken`.
 */
export async function changeEmail(
  services: Services,
  accessToken: string | undefined,
  input: { email: string; password: string },
  client: ClientInfo,
): Promise<void> {
  const { userId, username } = await authenticate(services, accessToken);
  const email = normaliseEmail(input.email);
  if (!email) {
    throw new ApiError('invalid_request', {
      message: 'The e-mail address must have one "@", at most 254 characters and no spaces.',
    });
  }
  const { account: checked } = await checkPassword(services, { username, password: input.password, client });
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  if (checked.email === email) {
    if (!checked.emailVerified) await services.outbox.enqueue({ kind: 'verify', userId, username, email });
    return;
  }
  if (!(await claimEmail(services, { email, userId, username, claimedAt: nowSeconds() })))
    throw new ApiError('email_taken');
  const { updated, previous } = await services.users.setEmail(username, userId, email);
  if (!updated) {
    await services.emails.release(email, userId);
    throw new ApiError('session_revoked');
  }
  if (previous !== undefined && previous !== email) await services.emails.release(previous, userId);
  await services.outbox.enqueue({ kind: 'verify', userId, username, email });
  if (previous !== undefined && previous !== email)
    await services.outbox.enqueue({ kind: 'notice', notice: 'email_changed', to: previous, username });
}
