import { ApiError } from '../errors.ts';
import { hashRecoveryCode, newRecoveryCodes } from '../mfa/recovery-codes.ts';
import { openTotpSecret, sealTotpSecret } from '../mfa/secret-box.ts';
import { matchingTotpStep } from '../mfa/totp.ts';
import type { Services } from '../services.ts';
import { secondFactorsOf } from '../store/second-factors.ts';
import { accountOf } from '../store/users.ts';
import { authenticate } from './authenticate.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * Turns TOTP on for the caller with the pending secret, proven by one of its codes (RFC 6238: the current step
 * or one either side). That code's step is recorded as the last accepted one, so the same code cannot then
 * complete a login. Returns the first set of recovery codes, shown this once: the store keeps only their hashes.
 * A notice goes to the account's verified address (`noticeSecondFactorChange`).
 *
 * Errors: as `authenticate`; `401 invalid_mfa_code` (not a current code of the pending secret);
 * `409 mfa_already_enabled` (TOTP is on); `409 mfa_not_enabled` (no enrolment pending: start one first).
 */
export async function confirmTotp(
  services: Services,
  accessToken: string | undefined,
  code: string,
): Promise<{ recoveryCodes: string[] }> {
  const { userId, username } = await authenticate(services, accessToken);
  const ring = await services.keys.getKeyRing();
  const item = await services.secondFactors.readUserItem(username);
  if (item?.userId !== userId) throw new ApiError('session_revoked');
  const factors = secondFactorsOf(item);
  if (factors.totpSecret !== undefined) throw new ApiError('mfa_already_enabled');
  const secret = openTotpSecret(ring, userId, factors.totpPending);
  if (factors.totpPending === undefined || secret === undefined)
    throw new ApiError('mfa_not_enabled', { message: 'No TOTP enrolment is pending: start one first.' });
  const step = matchingTotpStep(secret, code, Date.now(), factors.totpStep);
  if (step === undefined) throw new ApiError('invalid_mfa_code');

  const recoveryCodes = newRecoveryCodes();
  const enabled = await services.secondFactors.enableTotp({
    username,
    userId,
    pending: factors.totpPending,
    sealed: sealTotpSecret(ring, userId, secret),
    step,
    recoveryCodeHashes: recoveryCodes.map((code) => hashRecoveryCode(code) as string),
  });
  // Another confirmation (with this code or a later one) or a new enrolment came first.
  if (!enabled) throw new ApiError('invalid_mfa_code');
  await noticeSecondFactorChange(services, { userId, username }, 'totp_enabled', accountOf(item));
  return { recoveryCodes };
}
