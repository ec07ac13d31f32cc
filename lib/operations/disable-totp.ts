import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkPassword } from './check-password.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * Turns TOTP off for the caller (`DELETE /auth/mfa/totp`), re-authenticated by the password (a wrong one counts
 * toward the lockout): the secret, a pending enrolment and the recovery codes are removed. Turning it off when
 * it is off is not an error. When it was on, a notice goes to the account's verified address.
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`.
 */
export async function disableTotp(
  services: Services,
  accessToken: string | undefined,
  password: string,
  client: ClientInfo,
): Promise<void> {
  const { userId, username } = await authenticate(services, accessToken);
  const { account: checked } = await checkPassword(services, { username, password, client });
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  if (!(await services.secondFactors.removeTotp(username, userId))) throw new ApiError('session_revoked');
  // Only when something was turned off: TOTP was on when the password was checked.
  if (checked.secondFactorMethods.includes('totp'))
    await noticeSecondFactorChange(services, { userId, username }, 'totp_disabled', checked);
}
