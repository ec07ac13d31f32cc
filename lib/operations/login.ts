import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import type { ClientInfo } from '../http/function.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import type { Services } from '../services.ts';
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
 * `429 too_many_attempts` while the name, the (name, address) pair or the address is locked), then a new session
 * and its token pair. `client` is the caller as API Gateway saw it.
 */
export async function login(
  services: Services,
  credentials: Credentials & { client: ClientInfo },
): Promise<TokenPair> {
  const { config, sessions } = services;
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const sid = randomUUID();
  const account = await checkPassword(services, { ...credentials, sessionId: sid });
  const now = nowSeconds();
  const { userId } = account;
  const session = { userId, sid, authTime: now };
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
    },
    sessionEnd(config, now),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
