import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import { MAX_PASSWORD_LENGTH } from '../passwords/argon2.ts';
import type { Services } from '../services.ts';
import { normaliseUsername } from '../store/users.ts';
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
 * Logs a user in: checks the password (against a dummy hash for unknown names, so both failures cost the same
 * and answer the same), enforces the per-username lockout, stores a new session and returns its token pair.
 * A failure is counted for the username whether or not it exists, so a 429 says nothing about who exists.
 */
export async function login(services: Services, credentials: Credentials): Promise<TokenPair> {
  const { config, users, sessions, passwords } = services;
  const { username: rawUsername, password } = credentials;
  if (password.length > MAX_PASSWORD_LENGTH)
    throw new ApiError('invalid_request', { message: 'The password is too long.' });
  // Fetched first: with the parameter store down nothing is counted or written, the caller gets a 503.
  const ring = await services.keys.getKeyRing();

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

  const { userId } = record.account;
  if (record.failedCount > 0 || record.lockedUntil > 0 || check.needsRehash) {
    // Also releases the claim on the check, if one was taken.
    await users.recordSuccess(username, check.needsRehash ? await passwords.hash(password) : undefined);
  }
  const session = { userId, sid: randomUUID(), authTime: now };
  const refresh = mintToken(config, ring, 'refresh', session, now);
  // The session (with the refresh token's hash) is stored before any token leaves: no token without its row.
  await sessions.createSession(
    {
      sid: session.sid,
      userId,
      username: record.account.username,
      refreshHash: hashRefreshToken(refresh.token),
      rotatedAt: now,
      authTime: now,
    },
    sessionEnd(config, now),
  );
  countMetric(metricNames.login);
  return completePair(config, ring, session, refresh, now);
}
