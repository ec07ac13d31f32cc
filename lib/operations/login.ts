import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import { MAX_PASSWORD_LENGTH } from '../passwords/argon2.ts';
import type { Services } from '../services.ts';
import { normaliseUsername, type UserRecord } from '../store/users.ts';
import { hashRefreshToken } from '../tokens/jwt.ts';
import { completePair, mintToken, sessionEnd, type TokenPair } from '../tokens/pair.ts';

/** Seconds a claimed password check holds off other attempts on the same name, if its outcome is never recorded. */
const PASSWORD_CHECK_LEASE = 5;

/** A username and password as the client typed them (`POST /auth/register` and `/auth/login`). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Checks a password for a username under the per-username lockout (the one password check of login, password
 * change and account deletion): against a dummy hash for unknown names, so both failures cost the same and
 * answer the same; a failure is counted for the name whether or not it exists, so a 429 says nothing about who
 * exists. Returns the account and whether its hash should be upgraded.
 *
 * Errors: `401 invalid_credentials`, `429 too_many_attempts` (with `Retry-After`), `400 invalid_request` for a
 * password over the length limit, `503` on a store fault.
 */
export async function checkPassword(
  services: Services,
  rawUsername: string,
  password: string,
): Promise<{ account: NonNullable<UserRecord['account']>; needsRehash: boolean; record: UserRecord }> {
  const { config, users, passwords } = services;
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new ApiError('invalid_request', { message: 'The password is too long.' });
  const username = normaliseUsername(rawUsername);
  if (!username) {
    // No account can have this name; spend the same time as a real check all the same.
    await passwords.verify(passwords.dummyHash, password);
    throw new ApiError('invalid_credentials');
  }
  const now = nowSeconds();
  let record = await users.getUser(username);
  if (record.lockedUntil > now) {
    throw new ApiError('too_many_attempts', { retryAfter: record.lockedUntil - now });
  }
  if (record.failedCount > 0) {
    // With failures on record, racing guesses could each be checked before any of them is counted and so
    // get round the lockout: from here on one check at a time, claimed atomically (a clean account keeps
    // its two-request login).
    const claim = await users.claimCheck(username, now, now + PASSWORD_CHECK_LEASE);
    if (!claim.claimed) throw new ApiError('too_many_attempts', { retryAfter: claim.retryAfter });
    record = claim.record;
  }
  const check = await passwords.verify(record.account?.passwordHash ?? passwords.dummyHash, password);
  if (!record.account || !check.matches) {
    const restart = now - record.lastFailedAt > config.loginFailureWindow;
    const lockFor = (failures: number) =>
      Math.min(config.loginLockoutBase * 2 ** (failures - config.loginMaxFailures), config.loginLockoutMax);
    // The count this failure makes, as far as the record read says: exact while this attempt holds the claim,
    // and then the lock goes in the same write that releases the claim, so no attempt slips in between.
    const expected = restart ? 1 : record.failedCount + 1;
    const failures = await users.recordFailure({
      username,
      now,
      restart,
      forgetAt: now + config.loginFailureWindow + config.loginLockoutMax,
      registered: record.account !== undefined,
      lockUntil: expected >= config.loginMaxFailures ? now + lockFor(expected) : undefined,
    });
    if (failures >= config.loginMaxFailures && failures !== expected) {
      // Unclaimed attempts on a clean account raced this one: lock by the count they reached together.
      await users.lock(username, now + lockFor(failures));
    }
    throw new ApiError('invalid_credentials');
  }
  return { account: record.account, needsRehash: check.needsRehash, record };
}

/**
 * Logs a user in: {@link checkPassword}, then refuses a disabled account (`403 account_disabled`: only for the
 * right password, so the answer reveals nothing to a guesser), stores a new session (recording when, from which
 * address and user agent) and returns its token pair, whose access token carries the user's roles.
 */
export async function login(
  services: Services,
  credentials: Credentials,
  client: { ipAddress: string; userAgent: string } = { ipAddress: '', userAgent: '' },
): Promise<TokenPair> {
  const { config, users, sessions, accounts } = services;
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();
  const { account, needsRehash, record } = await checkPassword(
    services,
    credentials.username,
    credentials.password,
  );
  const { userId, username } = account;
  if (record.failedCount > 0 || record.lockedUntil > 0 || needsRehash) {
    // Also releases the claim on the check, if one was taken.
    await users.recordSuccess(
      username,
      needsRehash ? await services.passwords.hash(credentials.password) : undefined,
    );
  }
  // Read after the check, consistently: a revocation or a `disable` that came first is seen.
  const state = await accounts.getAccount(userId);
  // A deleted account whose name item is not cleaned up yet: as unknown as any other name.
  if (state.deleted) throw new ApiError('invalid_credentials');
  if (state.disabled) throw new ApiError('account_disabled');
  const now = nowSeconds();
  const session = { userId, sid: randomUUID(), authTime: now, roles: state.roles };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  // The session (with the refresh token's hash) is stored before any token leaves: no token without its row.
  await sessions.createSession(
    {
      sid: session.sid,
      userId,
      username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: now,
      generation: state.generation,
      createdAt: Date.now(),
      userAgent: client.userAgent,
      ipAddress: client.ipAddress,
    },
    sessionEnd(config, now),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
