import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { hashRefreshToken } from '../tokens/jwt.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';
import { passkeyAmr, userHandleIn, userIdOfHandle } from '../webauthn/relying-party.ts';
import { checkPasskey } from './check-passkey.ts';

/** `POST /auth/passkeys/login`'s input: the challenge id from `login/options` and the browser's assertion. */
export interface PasskeyLogin {
  challengeId: string;
  /** `AuthenticationResponseJSON` as the browser produced it (anything else fails verification). */
  response: Record<string, unknown>;
  client: ClientInfo;
}

/**
 * Signs a user in with a discoverable passkey, no password: the challenge is taken (one conditional delete, so
 * it answers once), the user is the one the credential's user handle names, and the assertion is checked by the
 * lockout-guarded `checkPasskey` (user verification required, signature counter moving forward). Then the
 * account's state (a deleted account is as unknown; a disabled one `403 account_disabled`, only after a valid
 * assertion) and a new session whose tokens carry `amr` `["hwk"|"swk", "user", "mfa"]` (see `passkeyAmr`).
 *
 * Errors: `401 invalid_credentials` for anything that does not verify (unknown, used or expired challenge, a
 * foreign or deleted credential, a bad signature, no user verification, a counter that went backwards, another
 * origin), counting toward the lockout of the credential's user; `429 too_many_attempts`; `403
 * account_disabled`; `503`.
 */
export async function passkeyLogin(services: Services, input: PasskeyLogin): Promise<TokenPair> {
  // Fetched first: with the parameter store down nothing is consumed or counted, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const pending = await services.webauthnChallenges.consume(input.challengeId, 'login', nowSeconds());
  const userId = userIdOfHandle(userHandleIn(input.response));
  const sid = randomUUID();
  const { passkey, username } = await checkPasskey(services, {
    userId,
    response: input.response,
    expectedChallenge: pending?.challenge,
    client: input.client,
    sessionId: sid,
  });
  // `checkPasskey` found the user's passkeys, so the handle named a user.
  const user = userId as string;
  const state = await services.accounts.getAccount(user);
  if (state.deleted)
    throw new ApiError('invalid_credentials', { message: 'The passkey could not be verified.' });
  if (state.disabled) throw new ApiError('account_disabled');

  const { config } = services;
  const now = nowSeconds();
  const session = { userId: user, sid, authTime: now, roles: state.roles, amr: passkeyAmr(passkey) };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  await services.sessions.createSession(
    {
      sid,
      userId: user,
      username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: now,
      generation: state.generation,
      createdAt: Date.now(),
      userAgent: input.client.userAgent,
      ipAddress: input.client.ipAddress,
    },
    sessionEnd(config, now),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
