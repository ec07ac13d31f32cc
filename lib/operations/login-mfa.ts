import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import type { MfaChallenge } from '../store/second-factors.ts';
import type { AmrValue } from '../tokens/amr.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { guardedCheck, type KnownDevice, readKnownDevice } from './check-password.ts';
import { hashMfaToken, MFA_TOKEN_MAX_FAILURES } from './mfa-token.ts';
import { type SecondFactorProof, verifySecondFactor } from './second-factor.ts';
import { type LoginAnswer, startSession } from './start-session.ts';

/**
 * Whether a challenge may still complete a login at `now`: it exists, is unused, unexpired and has fewer than
 * {@link MFA_TOKEN_MAX_FAILURES} wrong codes. The store's writes to it carry the same rule as their condition.
 */
export const challengeUsable = (
  challenge: MfaChallenge | undefined,
  now: number,
): challenge is MfaChallenge =>
  challenge !== undefined &&
  !challenge.used &&
  challenge.expiresAt > now &&
  challenge.failures < MFA_TOKEN_MAX_FAILURES;

/**
 * The refusal of a wrong second factor: `401 invalid_mfa_code` for a code, and for a passkey assertion that does
 * not verify `401 invalid_credentials`, as every passkey verification failure is (API.md "Passkeys").
 */
const wrongFactor = (proof: SecondFactorProof) =>
  proof.method === 'passkey'
    ? () => new ApiError('invalid_credentials', { message: 'The passkey could not be verified.' })
    : () => new ApiError('invalid_mfa_code');

const deadToken = () =>
  new ApiError('invalid_token', {
    message: 'The mfaToken is unknown, expired, used or no longer valid; log in again.',
  });

/**
 * Completes a login that was answered `mfa_required` (`POST /auth/login/mfa`): the `mfaToken` must be usable
 * ({@link challengeUsable}), and the proof right for the account. The check is guarded like a password's: it
 * takes one of the name's check slots, and a wrong code counts toward the name's, the pair's and the address's
 * lockout (`429 too_many_attempts` while locked) and against the `mfaToken` (the fifth kills it). A right one is
 * used up (a TOTP step or a recovery code is accepted once, whoever races; a passkey's challenge is taken
 * once and its signature counter must move forward), the `mfaToken` is used up, and a session starts with
 * `auth_time` now and `amr` as the factor says (RFC 8176: `["pwd", "otp", "mfa"]` for a code,
 * `["pwd", "hwk" | "swk", "user", "mfa"]` for a passkey).
 *
 * With a `deviceToken` that is a known device of the challenge's account (API.md "Known devices": this step is
 * judged as login is), the check is judged by that device's own failure count and lock instead, never the
 * name's, the pair's or the address's: a wrong code counts against the device (and the `mfaToken`) alone, so
 * strangers' guesses at the name never keep the owner's device out. The answer carries the device token: the
 * one presented when it was known, else a new one (the device becomes known once the whole login succeeds).
 *
 * Errors: `401 invalid_token` (unknown, expired, used or killed `mfaToken`), `401 invalid_mfa_code` (a wrong
 * code), `401 invalid_credentials` (a passkey assertion that does not verify),
 * `429 too_many_attempts`, `403 account_disabled`, `400 invalid_request`.
 */
export async function loginWithSecondFactor(
  services: Services,
  input: { mfaToken: string; proof: SecondFactorProof; client: ClientInfo; deviceToken?: string | undefined },
): Promise<LoginAnswer> {
  const ring = await services.keys.getKeyRing();
  const tokenHash = hashMfaToken(input.mfaToken);
  const challenge = await services.secondFactors.getChallenge(tokenHash);
  if (!challengeUsable(challenge, nowSeconds())) throw deadToken();

  const sid = randomUUID();
  let amr: readonly AmrValue[] | undefined;
  const known = input.deviceToken
    ? await readKnownDevice(services, challenge.username, input.deviceToken)
    : undefined;
  // A device of another account than the challenge's (the name changed hands since) is no device of this login.
  const device = known?.account.userId === challenge.userId ? known : undefined;
  const failure = wrongFactor(input.proof);
  try {
    if (device) amr = await checkOnDevice(services, ring, device, input.proof, tokenHash, failure);
    else
      await guardedCheck(
        services,
        {
          username: challenge.username,
          client: input.client,
          holder: sid,
          storesSession: () => true,
          failure,
        },
        async (account, item) => {
          // The name now holds another account (the challenge's was deleted and the name taken): nothing matches.
          if (account?.userId !== challenge.userId) return { matches: false };
          amr = await verifySecondFactor(
            services,
            ring,
            { userId: account.userId, username: account.username, item, mfaTokenHash: tokenHash },
            input.proof,
          );
          return { matches: amr !== undefined };
        },
      );
  } catch (error) {
    // A wrong code (or passkey) also counts against this mfaToken: the fifth kills it.
    if (error instanceof ApiError && error.code === failure().code)
      await services.secondFactors.recordWrongCode(tokenHash, MFA_TOKEN_MAX_FAILURES, nowSeconds());
    throw error;
  }
  // Single use: of racing completions with one mfaToken only one goes on (the others' factors are spent).
  if (
    !amr ||
    !(await services.secondFactors.completeChallenge(tokenHash, MFA_TOKEN_MAX_FAILURES, nowSeconds()))
  )
    throw deadToken();
  // The password was checked in the challenge's generation: a replacement (or a logout everywhere) since then
  // ends this login too. Read after the factor, so one that comes later still ends the session it starts.
  const state = await services.accounts.getAccount(challenge.userId);
  if (state.generation !== challenge.generation) throw deadToken();
  return startSession(
    services,
    { userId: challenge.userId, username: challenge.username, state },
    {
      client: input.client,
      authTime: nowSeconds(),
      amr,
      sessionId: sid,
      ring,
      ...(device && input.deviceToken !== undefined && { deviceToken: input.deviceToken }),
    },
  );
}

/**
 * The second factor checked on a known device's own count (see `OwnCountStore`): a check is reserved first (or
 * `429 too_many_attempts` while the device is locked), a wrong proof locks the count from `LOGIN_MAX_FAILURES` on
 * (growing) and is `401 invalid_mfa_code`, a right one clears it and extends the device's life. Returns the
 * factor's `amr`.
 */
async function checkOnDevice(
  services: Services,
  ring: KeyRing,
  known: KnownDevice,
  proof: SecondFactorProof,
  mfaTokenHash: string,
  failure: () => ApiError,
): Promise<readonly AmrValue[]> {
  const { ownCounts } = services;
  const now = nowSeconds();
  const reservation = await ownCounts.reserve(known.place, known.device.count, now);
  if ('wait' in reservation) throw new ApiError('too_many_attempts', { retryAfter: reservation.wait });
  const { account, read } = known;
  const amr = await verifySecondFactor(
    services,
    ring,
    { userId: account.userId, username: account.username, item: read.nameItem, mfaTokenHash },
    proof,
  );
  if (!amr) {
    await ownCounts.recordFailure(known.place, reservation.reserved, now);
    throw failure();
  }
  await ownCounts.clear(known.place, { expiresAt: now + services.config.deviceTokenTtl });
  return amr;
}
