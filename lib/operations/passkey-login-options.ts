import { randomBytes } from 'node:crypto';
import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { nowSeconds } from '../config.ts';
import type { Services } from '../services.ts';
import { requestOptions } from '../webauthn/relying-party.ts';

/**
 * `POST /auth/passkeys/login/options`: request options (`PublicKeyCredentialRequestOptionsJSON`) for a
 * passwordless sign-in with a discoverable credential (no `allowCredentials`: the browser offers the user's
 * passkeys for this RP ID, and the chosen one names its user by its user handle), with the `challengeId` that
 * `POST /auth/passkeys/login` presents. The challenge (random, 32 bytes) lives 300 s and is used once.
 *
 * Requests: one write.
 */
export async function passkeyLoginOptions(
  services: Services,
): Promise<PublicKeyCredentialRequestOptionsJSON & { challengeId: string }> {
  const options = await requestOptions(services.config.webauthn);
  const challengeId = randomBytes(16).toString('base64url');
  await services.webauthnChallenges.issue(
    challengeId,
    { challenge: options.challenge, purpose: 'login' },
    nowSeconds(),
  );
  return { ...options, challengeId };
}
