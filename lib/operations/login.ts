import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
import { encodeAmr, PASSWORD_AMR } from '../tokens/amr.ts';
import { hashRefreshToken } from '../tokens/jwt.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';
import { checkPassword } from './check-password.ts';

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
 */
export async function login(
  services: Services,
  credentials: Credentials & { client: ClientInfo },
): Promise<TokenPair> {
  const { config, sessions, accounts } = services;
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const sid = randomUUID();
  const account = await checkPassword(services, { ...credentials, sessionId: sid });
  const { userId } = account;
  // Read after the check, consistently: a revocation or a `disable` that came first is seen.
  const state = await accounts.getAccount(userId);
  // A deleted account whose name's item could not be cleaned up yet: as unknown as any other name.
  if (state.deleted) throw new ApiError('invalid_credentials');
  if (state.disabled) throw new ApiError('account_disabled');
  const now = nowSeconds();
  const session = { userId, sid, authTime: now, roles: state.roles, amr: PASSWORD_AMR };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  // The session (with the refresh token's hash) is stored before any token leaves: no token without its row.
  await sessions.createSession(
    {
      sid: session.sid,
      userId,
      username: account.username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: now,
      amr: encodeAmr(session.amr),
      generation: state.generation,
      createdAt: Date.now(),
      userAgent: credentials.client.userAgent,
      ipAddress: credentials.client.ipAddress,
    },
    sessionEnd(config, now),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
