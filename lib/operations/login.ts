import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import type { UserAccount } from '../store/users.ts';
import { type AmrValue, encodeAmr, PASSWORD_AMR } from '../tokens/amr.ts';
import { hashRefreshToken } from '../tokens/jwt.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';
import { checkPassword } from './check-password.ts';
import { hashMfaToken, MFA_TOKEN_TTL, newMfaToken } from './second-factor.ts';

/** A username and password as the client typed them (`POST /auth/register` and `/auth/login`). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Logs a user in: the lockout-guarded password check (`checkPassword`: unknown names cost and answer the same,
 * `429 too_many_attempts` while the name, the (name, address) pair or the address is locked), then the user's
 * account state (a disabled account is `403 account_disabled`, only for the right password, so the answer tells
 * a guesser nothing), then a new session, recording when and from which address and user agent, and its token
 * pair, whose access token carries the user's roles. `client` is the caller as API Gateway saw it.
 *
 * An account with a second factor gets no session here: the right password is answered
 * `401 mfa_required` with an `mfaToken` (single-use, {@link MFA_TOKEN_TTL} seconds) and the enrolled `methods`,
 * and `POST /auth/login/mfa` completes the login. A wrong password is the usual `401 invalid_credentials`.
 */
export async function login(
  services: Services,
  credentials: Credentials & { client: ClientInfo },
): Promise<TokenPair> {
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const sid = randomUUID();
  const account = await checkPassword(services, { ...credentials, sessionId: sid });
  if (account.secondFactorMethods.length > 0) {
    // The account state first: a disabled account says so (to the right password) before any second factor.
    await liveAccountState(services, account.userId);
    throw await secondFactorChallenge(services, account);
  }
  return startSession(services, ring, account, {
    sid,
    client: credentials.client,
    authTime: nowSeconds(),
    amr: PASSWORD_AMR,
  });
}

/** The `401 mfa_required` of a right password for an account with a second factor, with a new `mfaToken`. */
async function secondFactorChallenge(services: Services, account: UserAccount): Promise<ApiError> {
  const mfaToken = newMfaToken();
  await services.secondFactors.createChallenge(hashMfaToken(mfaToken), {
    userId: account.userId,
    username: account.username,
    expiresAt: nowSeconds() + MFA_TOKEN_TTL,
  });
  return new ApiError('mfa_required', { details: { mfaToken, methods: account.secondFactorMethods } });
}

/**
 * The account state a login may proceed with (read consistently after the credential checks, so a revocation or
 * a `disable` that came first is seen): `403 account_disabled`, and a deleted account whose name's item could
 * not be cleaned up yet is as unknown as any other name (`401 invalid_credentials`).
 */
async function liveAccountState(services: Services, userId: string) {
  const state = await services.accounts.getAccount(userId);
  if (state.deleted) throw new ApiError('invalid_credentials');
  if (state.disabled) throw new ApiError('account_disabled');
  return state;
}

/**
 * Starts a session for an account whose credentials were just verified, and mints its pair: the account state
 * (`403 account_disabled`; a deleted account is `401 invalid_credentials`), then the session item (with the
 * refresh token's hash, `auth_time` and `amr`) is stored before any token leaves. `sid` names the session
 * (login passes the id its password check's lease is named by); `authTime` is when the user proved who they
 * are, `amr` how (RFC 8176).
 */
export async function startSession(
  services: Services,
  ring: KeyRing,
  account: Pick<UserAccount, 'userId' | 'username'>,
  options: { sid?: string; client: ClientInfo; authTime: number; amr: readonly AmrValue[] },
): Promise<TokenPair> {
  const { config, sessions } = services;
  const { userId } = account;
  const state = await liveAccountState(services, userId);
  const now = nowSeconds();
  const sid = options.sid ?? randomUUID();
  const session = { userId, sid, authTime: options.authTime, roles: state.roles, amr: options.amr };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  // The session (with the refresh token's hash) is stored before any token leaves: no token without its row.
  await sessions.createSession(
    {
      sid,
      userId,
      username: account.username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: options.authTime,
      amr: encodeAmr(options.amr),
      generation: state.generation,
      createdAt: Date.now(),
      userAgent: options.client.userAgent,
      ipAddress: options.client.ipAddress,
    },
    sessionEnd(config, options.authTime),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
