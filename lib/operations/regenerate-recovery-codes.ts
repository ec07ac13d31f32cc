import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { hashRecoveryCode, newRecoveryCodes } from '../mfa/recovery-codes.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkPassword } from './check-password.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * A new set of recovery codes for the caller (`POST /auth/mfa/recovery-codes`), re-authenticated by the password
 * (a wrong one counts toward the lockout). The old set dies in the same write; the new codes are shown this once.
 * A notice goes to the account's verified address.
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`; `409 mfa_not_enabled` when
 * TOTP is off (recovery codes come with it).
 */
export async function regenerateRecoveryCodes(
  services: Services,
  accessToken: string | undefined,
  password: string,
  client: ClientInfo,
): Promise<{ recoveryCodes: string[] }> {
  const { userId, username } = await authenticate(services, accessToken);
  const { account: checked } = await checkPassword(services, { username, password, client });
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  const recoveryCodes = newRecoveryCodes();
  const hashes = recoveryCodes.map((code) => hashRecoveryCode(code) as string);
  if (!(await services.secondFactors.replaceRecoveryCodes(username, userId, hashes)))
    throw new ApiError('mfa_not_enabled');
  await noticeSecondFactorChange(services, { userId, username }, 'recovery_codes_regenerated', checked);
  return { recoveryCodes };
}
