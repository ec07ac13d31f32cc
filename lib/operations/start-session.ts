import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import type { AccountState } from '../store/accounts.ts';
import { newDeviceToken } from '../store/devices.ts';
import { type AmrValue, encodeAmr, PASSWORD_AMR } from '../tokens/amr.ts';
import { hashRefreshToken } from '../tokens/jwt.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';

/** An account whose user has just proved who they are (a password, a second factor, a passkey). */
export interface VerifiedAccount {
  userId: string;
  /** The normalised username, kept on the session for listings and re-authentication. */
  username: string;
  /**
   * The account state read together with the credential that was verified (or before it was checked): the
   * session joins this state's generation. A state read after the check could belong to a generation that a
   * password replacement started after the check read the old hash, and the session would survive it.
   */
  state: AccountState;
}

/** How the session starts: who asked and when the user proved who they are. */
export interface SessionStart {
  /** The caller as API Gateway saw it: its address and user agent are kept on the session. */
  client: ClientInfo;
  /** Epoch seconds the user proved who they are (RFC 9068 `auth_time`): the session ends `SESSION_MAX_AGE` after. */
  authTime: number;
  /**
   * RFC 8176 authentication method references of that proof (`["pwd"]` for a password alone, the default):
   * stored on the session (compact), carried by its access tokens and kept by every refresh.
   */
  amr?: readonly AmrValue[];
  /** The session id when the caller chose it before the check (a login's check slot is named by it). */
  sessionId?: string;
  /** The key ring, when the caller fetched it first (so that with SSM down nothing was counted or written). */
  ring?: KeyRing;
  /**
   * The device token the login came with, when it was judged valid for this account (it is answered again);
   * absent: a new one is made and stored.
   */
  deviceToken?: string;
}

/** What a login answers (API.md `POST /auth/login`): the token pair and the device's token. */
export interface LoginAnswer extends TokenPair {
  /**
   * The device token (API.md "Known devices"): opaque to the client, kept across sign-outs and sent with later
   * logins, which are then judged by this device's own failure count.
   */
  deviceToken: string;
}

/**
 * Starts a session for a verified account and mints its token pair: the one tail of every login (password,
 * second factor, passkey). The account state decides first: a deleted account is `401 invalid_credentials`
 * (as unknown as any other name), a disabled one `403 account_disabled`. A device token is made for a login
 * that came without a valid one (`<userId>.<random>`, stored as its SHA-256, bound to the user's current
 * generation so that a whole-user revocation forgets it, known for `DEVICE_TOKEN_TTL` after its last use).
 * Then the session is stored (with the refresh token's hash) before any token leaves, so no token exists
 * without its row; the access token carries the user's roles. Errors: those two, `503` when DynamoDB or SSM
 * fails.
 */
export async function startSession(
  services: Services,
  verified: VerifiedAccount,
  start: SessionStart,
): Promise<LoginAnswer> {
  const { config, sessions } = services;
  const { userId, state } = verified;
  if (state.deleted) throw new ApiError('invalid_credentials');
  if (state.disabled) throw new ApiError('account_disabled');
  const ring = start.ring ?? (await services.keys.getKeyRing());
  const now = nowSeconds();
  let deviceToken = start.deviceToken;
  if (deviceToken === undefined) {
    deviceToken = newDeviceToken(userId);
    // Before the session: a device stored for a login that then fails is harmless, and is swept by the TTL.
    await services.devices.create(deviceToken, {
      userId,
      generation: state.generation,
      expiresAt: now + config.deviceTokenTtl,
    });
  }
  const session = {
    userId,
    sid: start.sessionId ?? randomUUID(),
    authTime: start.authTime,
    roles: state.roles,
    amr: start.amr ?? PASSWORD_AMR,
  };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  await sessions.createSession(
    {
      sid: session.sid,
      userId,
      username: verified.username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: start.authTime,
      amr: encodeAmr(session.amr),
      generation: state.generation,
      createdAt: Date.now(),
      userAgent: start.client.userAgent,
      ipAddress: start.client.ipAddress,
    },
    sessionEnd(config, start.authTime),
  );
  countMetric(metricNames.login);
  return { ...completePair(config, ring, session, refresh, now), deviceToken };
}
