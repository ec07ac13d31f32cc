import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { mailLimits } from '../store/limits.ts';
import { authenticate } from './authenticate.ts';

/**
 * Sends the verification mail again (`POST /auth/email/resend`), at most 3 times an hour per account
 * (`429 too_many_attempts` with `Retry-After` beyond: the caller is signed in, so saying so tells nobody
 * anything). An address already verified is answered the same, with no mail.
 *
 * Requests: the authentication read, a GetItem of the account item, one to three for the limit's slot, and the
 * queue's SendMessage. Errors: as `authenticate`; `400 invalid_request` when the account has no address.
 */
export async function resendVerification(services: Services, accessToken: string | undefined): Promise<void> {
  const { userId, username } = await authenticate(services, accessToken);
  const account = await services.users.getAccount(username);
  if (!account || account.userId !== userId) throw new ApiError('session_revoked');
  if (account.email === undefined)
    throw new ApiError('invalid_request', { message: 'The account has no e-mail address to verify.' });
  if (account.emailVerified) return;
  const slot = await services.limits.take(`verify#${userId}`, mailLimits.verificationResends, nowSeconds());
  if (!slot.taken) throw new ApiError('too_many_attempts', { retryAfter: slot.retryAfter });
  await services.outbox.enqueue({ kind: 'verify', userId, username, email: account.email });
}
