import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { creationOptions } from '../webauthn/relying-party.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';

/**
 * The challenge id of a session's pending passkey registration: one per session, so that asking again replaces
 * the pending challenge and `POST /auth/passkeys/register` needs no id of its own.
 */
export const registrationChallengeId = (sessionId: string) => `register.${sessionId}`;

/**
 * `POST /auth/passkeys/register/options`: creation options (`PublicKeyCredentialCreationOptionsJSON`) for a new
 * passkey of the caller, after a fresh check of the password (`checkFromSession`: judged by this session's own
 * failure count, never the name's; a stolen access token alone cannot add a credential). Resident key preferred, user verification required, the
 * user's existing credentials excluded, no attestation asked for. The challenge is stored for 300 s, for this
 * session only.
 *
 * Requests: the authentication read, the password check's, the first time the mark that the account may have
 * passkeys (UpdateItem of the name's item), one read of the user's passkeys, one write.
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`, `400 invalid_request`.
 */
export async function passkeyRegistrationOptions(
  services: Services,
  accessToken: string | undefined,
  password: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId } = caller;
  const checked = await checkFromSession(services, caller, password);
  // The name now belongs to another account (this one was deleted and the name taken): not this user's password.
  if (checked.account.userId !== userId) throw new ApiError('session_revoked');
  // Before any credential can be added: from now on a password login looks for passkeys to ask for (the mark is
  // never cleared, so a passkey can never be added without it).
  if (
    !checked.account.mayHavePasskeys &&
    !(await services.secondFactors.markPasskeysEnrolled(username, userId))
  )
    throw new ApiError('session_revoked');
  const existing = await services.passkeys.get(userId);
  const options = await creationOptions(services.config.webauthn, { userId, username }, existing.passkeys);
  await services.webauthnChallenges.issue(
    registrationChallengeId(sessionId),
    { challenge: options.challenge, purpose: 'register', userId },
    nowSeconds(),
  );
  return options;
}
