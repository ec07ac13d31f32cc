import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import type { ClientInfo } from '../http/function.ts';
import type { Services } from '../services.ts';
import type { TokenPair } from '../tokens/pair.ts';
import { checkPassword } from './check-password.ts';
import { startSession } from './start-session.ts';

/** A username and password as the client typed them (`POST /auth/register` and `/auth/login`). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Logs a user in: the lockout-guarded password check (`checkPassword`: unknown names cost and answer the same,
 * `429 too_many_attempts` while the name, the (name, address) pair or the address is locked), then
 * `startSession` with the account state the check read with the hash (a disabled account is
 * `403 account_disabled`, only for the right password, so the answer tells a guesser nothing). `client` is the
 * caller as API Gateway saw it.
 */
export async function login(
  services: Services,
  credentials: Credentials & { client: ClientInfo },
): Promise<TokenPair> {
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const sessionId = randomUUID();
  const { account, state } = await checkPassword(services, { ...credentials, sessionId });
  return startSession(
    services,
    { userId: account.userId, username: account.username, state },
    { client: credentials.client, authTime: nowSeconds(), amr: ['pwd'], sessionId, ring },
  );
}
