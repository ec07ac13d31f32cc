import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { normaliseEmail } from '../mail/address.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';
import { claimEmail } from './email-claim.ts';

/**
 * Sets the caller's address (`POST /auth/email`), re-authenticated by the password (`checkFromSession`: judged
 * by this session's own failure count, never the name's). The new address is unverified; a verification mail goes to it and a notice to the
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
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username } = caller;
  const email = normaliseEmail(input.email);
  if (!email) {
    throw new ApiError('invalid_request', {
      message: 'The e-mail address must have one "@", at most 254 characters and no spaces.',
    });
  }
  const { account: checked } = await checkFromSession(services, caller, input.password);
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
