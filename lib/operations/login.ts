import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import type { AccountState } from '../store/accounts.ts';
import type { SecondFactorMethod } from '../store/second-factors.ts';
import type { UserAccount } from '../store/users.ts';
import { PASSWORD_AMR } from '../tokens/amr.ts';
import { checkPassword, checkWithDevice } from './check-password.ts';
import { hashMfaToken, MFA_TOKEN_TTL, newMfaToken, secondFactorMethodsOf } from './mfa-token.ts';
import { type LoginAnswer, startSession } from './start-session.ts';

/** A username and password as the client typed them (`POST /auth/register` and `/auth/login`). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Logs a user in. With a `deviceToken` that is a known device of this account (API.md "Known devices"), the
 * password check is judged by that device's own failure count and lock (`checkWithDevice`), never by the name's,
 * so strangers' failures never keep the owner's device out; otherwise (no token, or one that is not a known
 * device of this account, which is ignored) by the name's lockout (`checkPassword`: unknown names cost and answer
 * the same, `429 too_many_attempts` while the name, the (name, address) pair or the address is locked). Then
 * `startSession` with the account state the check read with the hash (a disabled account is
 * `403 account_disabled`, only for the right password, so the answer tells a guesser nothing), which answers the
 * device token: the one presented when it was judged valid, else a new one. `client` is the caller as API
 * Gateway saw it. With `REQUIRE_VERIFIED_EMAIL`, an account whose address is not verified is
 * `403 email_not_verified`, likewise only for the right password.
 *
 * An account with a second factor gets no session here: the right password is answered `401 mfa_required` with
 * an `mfaToken` (single-use, {@link MFA_TOKEN_TTL} seconds) and the enrolled `methods`, and
 * `POST /auth/login/mfa` completes the login (and answers the device token; the client presents its token there
 * again). A wrong password is the usual `401 invalid_credentials`.
 */
export async function login(
  services: Services,
  credentials: Credentials & { client: ClientInfo; deviceToken?: string | undefined },
): Promise<LoginAnswer> {
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const sessionId = randomUUID();
  const { username, password, client, deviceToken } = credentials;
  const known = deviceToken
    ? await checkWithDevice(services, { username, password, deviceToken })
    : undefined;
  const { account, state } =
    known ?? (await checkPassword(services, { username, password, client, sessionId }));
  // Only after the right password, and after what `startSession` answers first (a deleted or disabled account),
  // as `account_disabled` is: the answer tells a guesser nothing.
  if (services.config.requireVerifiedEmail && !state.deleted && !state.disabled && !account.emailVerified)
    throw new ApiError('email_not_verified');
  const methods = await secondFactorMethodsOf(services, account);
  if (methods.length > 0) throw await secondFactorChallenge(services, account, state, methods);
  return startSession(
    services,
    { userId: account.userId, username: account.username, state },
    {
      client,
      authTime: nowSeconds(),
      amr: PASSWORD_AMR,
      sessionId,
      ring,
      ...(known && { deviceToken: known.deviceToken }),
    },
  );
}

/**
 * The `401 mfa_required` of a right password for an account with a second factor, with a new `mfaToken`. The
 * account state decides first, as for any login (a disabled account says so to the right password). The
 * challenge keeps the generation the password was checked in: a password replacement or a whole-user
 * revocation after this check leaves it unusable.
 */
async function secondFactorChallenge(
  services: Services,
  account: UserAccount,
  state: AccountState,
  methods: readonly SecondFactorMethod[],
): Promise<ApiError> {
  if (state.deleted) return new ApiError('invalid_credentials');
  if (state.disabled) return new ApiError('account_disabled');
  const mfaToken = newMfaToken();
  await services.secondFactors.createChallenge(hashMfaToken(mfaToken), {
    userId: account.userId,
    username: account.username,
    generation: state.generation,
    expiresAt: nowSeconds() + MFA_TOKEN_TTL,
  });
  return new ApiError('mfa_required', { details: { mfaToken, methods } });
}
