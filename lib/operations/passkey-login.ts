import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import { passkeyAmr, userHandleIn, userIdOfHandle } from '../webauthn/relying-party.ts';
import { checkPasskey } from './check-passkey.ts';
import { readKnownDevice } from './check-password.ts';
import { type LoginAnswer, startSession } from './start-session.ts';

/** `POST /auth/passkeys/login`'s input: the challenge id from `login/options` and the browser's assertion. */
export interface PasskeyLogin {
  challengeId: string;
  /** `AuthenticationResponseJSON` as the browser produced it (anything else fails verification). */
  response: Record<string, unknown>;
  client: ClientInfo;
  /** The device token the client holds (API.md "Known devices"), if any: answered again when it is the user's. */
  deviceToken?: string | undefined;
}

/**
 * Signs a user in with a discoverable passkey, no password: the challenge is taken (one conditional delete, so
 * it answers once), the user is the one the credential's user handle names, and the assertion is checked by the
 * lockout-guarded `checkPasskey` (user verification required, signature counter moving forward). Then
 * `startSession` with the account state read before the check (a deleted account is as unknown; a disabled one
 * `403 account_disabled`, only after a valid assertion), with `amr` `["hwk"|"swk", "user", "mfa"]` (see
 * `passkeyAmr`). The answer carries a device token: the presented one when it is a known device of this user
 * (its life extended, its failure count cleared: the user has just proved who they are), else a new one.
 *
 * Errors: `401 invalid_credentials` for anything that does not verify (unknown, used or expired challenge, a
 * foreign or deleted credential, a bad signature, no user verification, a counter that went backwards, another
 * origin), counting toward the lockout of the credential's user; `429 too_many_attempts`; `403
 * account_disabled`; `503`.
 */
export async function passkeyLogin(services: Services, input: PasskeyLogin): Promise<LoginAnswer> {
  // Fetched first: with the parameter store down nothing is consumed or counted, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const pending = await services.webauthnChallenges.consume(input.challengeId, 'login', nowSeconds());
  const userId = userIdOfHandle(userHandleIn(input.response));
  // Read before the check: the session joins this generation, so a whole-user revocation (an administrator's
  // `mfa-reset`, which also removes the passkeys) that lands while the assertion is checked ends it too.
  const state = userId === undefined ? undefined : await services.accounts.getAccount(userId);
  const sessionId = randomUUID();
  const { passkey, username } = await checkPasskey(services, {
    userId,
    response: input.response,
    expectedChallenge: pending?.challenge,
    client: input.client,
    sessionId,
  });
  if (userId === undefined || state === undefined) throw new ApiError('invalid_credentials');
  const known = input.deviceToken ? await readKnownDevice(services, username, input.deviceToken) : undefined;
  const device = known?.account.userId === userId ? known : undefined;
  if (device)
    await services.ownCounts.clear(device.place, {
      expiresAt: nowSeconds() + services.config.deviceTokenTtl,
    });
  return startSession(
    services,
    { userId, username, state },
    {
      client: input.client,
      authTime: nowSeconds(),
      amr: passkeyAmr(passkey),
      sessionId,
      ring,
      ...(device && input.deviceToken !== undefined && { deviceToken: input.deviceToken }),
    },
  );
}
