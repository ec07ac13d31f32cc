import { ApiError } from '../errors.ts';
import { hashRecoveryCode, newRecoveryCodes } from '../mfa/recovery-codes.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * A new set of recovery codes for the caller (`POST /auth/mfa/recovery-codes`), re-authenticated by the password
 * (`checkFromSession`: judged by this session's own failure count, never the name's). The old set dies in the same write; the new codes are shown this once. A notice goes to the account's verified address.
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`; `409 mfa_not_enabled` when
 * TOTP is off (recovery codes come with it).
 */
export async function regenerateRecoveryCodes(
  services: Services,
  accessToken: string | undefined,
  password: string,
): Promise<{ recoveryCodes: string[] }> {
  const caller = await authenticate(services, accessToken);
  const { userId, username } = caller;
  const { account: checked } = await checkFromSession(services, caller, password);
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  const recoveryCodes = newRecoveryCodes();
  const hashes = recoveryCodes.map((code) => hashRecoveryCode(code) as string);
  if (!(await services.secondFactors.replaceRecoveryCodes(username, userId, hashes)))
    throw new ApiError('mfa_not_enabled');
  await noticeSecondFactorChange(services, { userId, username }, 'recovery_codes_regenerated', checked);
  return { recoveryCodes };
}
