import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { logEvent } from '../observability/log.ts';
import type { Services } from '../services.ts';
import { MAX_PASSKEYS } from '../store/passkeys.ts';
import { PasskeyVerificationError, verifyRegistration } from '../webauthn/relying-party.ts';
import { type PasskeySummary, passkeyName, passkeySummary } from '../webauthn/summary.ts';
import { authenticate } from './authenticate.ts';
import { registrationChallengeId } from './passkey-registration-options.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * `POST /auth/passkeys/register`: verifies the browser's `RegistrationResponseJSON` against the challenge this
 * session was given by `register/options` (taken with one conditional delete: used once, whatever the outcome)
 * and stores the credential under the caller. `name` is optional (default: "Passkey" and the date). A notice goes
 * to the account's verified address (the name's item is read for it).
 *
 * Errors: as `authenticate`; `401 invalid_credentials` when there is no pending challenge for this session or
 * the response does not verify (origin, RP ID, challenge, user verification, a supported algorithm);
 * `400 invalid_request` for a bad name, a credential already registered, or more than {@link MAX_PASSKEYS}.
 */
export async function registerPasskey(
  services: Services,
  accessToken: string | undefined,
  input: { response: unknown; name: string | undefined },
): Promise<PasskeySummary> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId } = caller;
  const createdAt = Date.now();
  const name = passkeyName(input.name, `Passkey ${new Date(createdAt).toISOString().slice(0, 10)}`);
  const pending = await services.webauthnChallenges.consume(
    registrationChallengeId(sessionId),
    'register',
    nowSeconds(),
    userId,
  );
  if (!pending) throw refused('no pending registration for this session');
  let credential: Awaited<ReturnType<typeof verifyRegistration>>;
  try {
    credential = await verifyRegistration(services.config.webauthn, input.response, pending.challenge);
  } catch (error) {
    if (error instanceof PasskeyVerificationError) throw refused(String((error.cause as Error)?.message));
    throw error;
  }
  const passkey = { ...credential, name, createdAt };
  const added = await services.passkeys.add(userId, username, passkey);
  if (added === 'too_many')
    throw new ApiError('invalid_request', {
      message: `An account may have at most ${MAX_PASSKEYS} passkeys.`,
    });
  if (added === 'already_registered')
    throw new ApiError('invalid_request', { message: 'This passkey is already registered.' });
  await noticeSecondFactorChange(services, { userId, username }, 'passkey_added');
  return passkeySummary(passkey);
}

function refused(reason: string): ApiError {
  logEvent('info', 'passkey registration refused', { reason: reason.slice(0, 200) });
  return new ApiError('invalid_credentials', {
    message: 'The passkey could not be verified.',
    cause: new Error(reason),
  });
}
