import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import type { UserAccount } from '../store/users.ts';

/** The second-factor proof a reset may carry (API.md `POST /auth/password/reset`: `code` or `recoveryCode`). */
export interface ResetSecondFactor {
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/**
 * The second-factor check of a password reset, run after the link and the new password are judged and before
 * the link is used and the password replaced: so that a refusal here leaves the link usable (API.md).
 *
 * A no-op for now: this service has no second factor yet, so every account passes. Once accounts can have one,
 * this is where an account with a second factor answers `401 mfa_required` without a `code` or `recoveryCode`
 * and `401 invalid_mfa_code` with a wrong one (counted as in "Second factor").
 */
export async function checkResetSecondFactor(
  _services: Services,
  _account: UserAccount,
  _proof: ResetSecondFactor,
  _client: ClientInfo,
): Promise<void> {}
