import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { requestOptions } from '../webauthn/relying-party.ts';
import { challengeUsable } from './login-mfa.ts';
import { hashMfaToken, mfaPasskeyChallengeId } from './mfa-token.ts';

/**
 * `POST /auth/login/mfa/options`: WebAuthn request options (`PublicKeyCredentialRequestOptionsJSON`) for a
 * second-factor step with a passkey, after a password login answered `mfa_required` (API.md "Passkeys"): the
 * `allowCredentials` are the user's passkeys, user verification is required, and the challenge (random, 32
 * bytes, 300 s) is bound to the `mfaToken`: `POST /auth/login/mfa` with `{"mfaToken", "passkey"}` answers it,
 * once. Asking again replaces the pending challenge. Nothing is counted here: no secret is checked.
 *
 * Requests: the `mfaToken`'s challenge and the user's passkeys (GetItem each), the WebAuthn challenge (PutItem).
 * Errors: `401 invalid_token` (unknown, expired, used or killed `mfaToken`), `400 invalid_request` (the account
 * has no passkey).
 */
export async function loginMfaOptions(
  services: Services,
  mfaToken: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const tokenHash = hashMfaToken(mfaToken);
  const challenge = await services.secondFactors.getChallenge(tokenHash);
  if (!challengeUsable(challenge, nowSeconds()))
    throw new ApiError('invalid_token', {
      message: 'The mfaToken is unknown, expired, used or no longer valid; log in again.',
    });
  const { passkeys } = await services.passkeys.get(challenge.userId);
  if (passkeys.length === 0)
    throw new ApiError('invalid_request', { message: 'This account has no passkey: use a code.' });
  const options = await requestOptions(services.config.webauthn, passkeys);
  await services.webauthnChallenges.issue(
    mfaPasskeyChallengeId(tokenHash),
    { challenge: options.challenge, purpose: 'mfa', userId: challenge.userId },
    nowSeconds(),
  );
  return options;
}
