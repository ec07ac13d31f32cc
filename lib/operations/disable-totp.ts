import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * Turns TOTP off for the caller (`DELETE /auth/mfa/totp`), re-authenticated by the password (`checkFromSession`: judged by
 * this session's own failure count, never the name's): the secret, a pending enrolment and the recovery codes are removed. Turning it off when
 * it is off is not an error. When it was on, a notice goes to the account's verified address.
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`.
 */
export async function disableTotp(
  services: Services,
  accessToken: string | undefined,
  password: string,
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username } = caller;
  const { account: checked } = await checkFromSession(services, caller, password);
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  if (!(await services.secondFactors.removeTotp(username, userId))) throw new ApiError('session_revoked');
  // Only when something was turned off: TOTP was on when the password was checked.
  if (checked.secondFactorMethods.includes('totp'))
    await noticeSecondFactorChange(services, { userId, username }, 'totp_disabled', checked);
}
