import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import type { SecondFactorMethod } from '../store/second-factors.ts';
import type { UserAccount } from '../store/users.ts';
import { guardedCheck } from './check-password.ts';
import { type SecondFactorProof, verifySecondFactor } from './second-factor.ts';

/** The second-factor proof a reset may carry (API.md `POST /auth/password/reset`: `code` or `recoveryCode`). */
export interface ResetSecondFactor {
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/**
 * The methods a reset link must be backed by: the ones a mailed link can carry a proof of (API.md: a `code` or a
 * `recoveryCode`). An account whose only second factor is a passkey resets with the link alone: its next login
 * still asks for the passkey (the reset changes the password, not the second factor, and starts no session).
 */
const RESET_METHODS: readonly SecondFactorMethod[] = ['totp', 'recovery_code'];

/**
 * The second-factor check of a password reset, run after the link and the new password are judged and before
 * the link is used and the password replaced: so that a refusal here leaves the link usable (API.md).
 *
 * An account with TOTP on must prove it: without a `code` or `recoveryCode` the answer is `401 mfa_required`
 * (with the `methods` it may use); with both, `400 invalid_request`. The proof is checked under the login's
 * lockout guard (`guardedCheck`): `429 too_many_attempts` while the name, the pair or the address is locked, and
 * a wrong code is counted for them like a wrong password, then `401 invalid_mfa_code`. A right one is used up
 * by the same conditional write as at login (a TOTP step is accepted once, a recovery code removed once), so of
 * racing resets with one code exactly one gets past this check. Accounts without TOTP pass.
 *
 * Requests (TOTP on): the guard's reads and writes (address count, admission, success or failure) and the
 * factor's conditional UpdateItem.
 */
export async function checkResetSecondFactor(
  services: Services,
  account: UserAccount,
  proof: ResetSecondFactor,
  client: ClientInfo,
): Promise<void> {
  const methods = account.secondFactorMethods.filter((method) => RESET_METHODS.includes(method));
  if (methods.length === 0) return;
  const presented = resetProof(proof);
  if (!presented)
    throw new ApiError('mfa_required', {
      message: 'This account has a second factor: send "code" or "recoveryCode" with the new password.',
      details: { methods },
    });
  const ring = await services.keys.getKeyRing();
  await guardedCheck(
    services,
    { username: account.username, client, failure: () => new ApiError('invalid_mfa_code') },
    async (current, item) => {
      // The name now holds another account (the link's was deleted and the name taken): nothing matches.
      if (current?.userId !== account.userId) return { matches: false };
      const amr = await verifySecondFactor(
        services,
        ring,
        { userId: current.userId, username: current.username, item },
        presented,
      );
      return { matches: amr !== undefined };
    },
  );
}

function resetProof(proof: ResetSecondFactor): SecondFactorProof | undefined {
  if (proof.code !== undefined && proof.recoveryCode !== undefined)
    throw new ApiError('invalid_request', { message: 'Send one second factor: a code or a recovery code.' });
  if (proof.code !== undefined) return { method: 'totp', value: proof.code };
  if (proof.recoveryCode !== undefined) return { method: 'recovery_code', value: proof.recoveryCode };
  return undefined;
}
