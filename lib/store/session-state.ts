/* Pure: the session item's shape and the one liveness rule, without the SDK (the authorizer's bundle reads
   sessions with a client of its own and must not pull the SDK in through here). */
import type { AccountState } from './account-state.ts';
import { tableSchema } from './schema.ts';

/** One login: the hash of its current refresh token, and what decides whether it may still be used. */
export interface Session {
  sid: string;
  userId: string;
  username: string;
  /** SHA-256 of the current refresh token; the token itself is never stored. */
  refreshHash: string;
  /** The hash it replaced at the last rotation, to tell a racing retry from a replay. */
  previousRefreshHash?: string;
  /** Epoch seconds of the last rotation (or of the login). */
  rotatedAt: number;
  /**
   * The pair the last rotation issued, sealed (AES-256-GCM) under a key derived from the token it replaced
   * (`lib/tokens/successor.ts`): only a holder of that previous token can open it, to be answered again within
   * `REFRESH_REUSE_GRACE`. Absent until the first rotation.
   */
  sealedSuccessor?: Uint8Array;
  /** Epoch seconds of the login: the session ends `SESSION_MAX_AGE` after it; tokens carry it as `auth_time`. */
  authTime: number;
  /**
   * The login's RFC 8176 method values, compact (`lib/tokens/amr.ts`: `pwd` or `pwd,otp,mfa`); absent on sessions
   * stored before it, which were password logins. A refresh puts them in the new access token again.
   */
  amr?: string;
  revoked: boolean;
  /** The user's revocation generation the session belongs to (see `AccountState.generation`); 0 when absent. */
  generation?: number;
  /** Epoch milliseconds of the login (finer than `authTime`, to order a user's sessions newest first). */
  createdAt?: number;
  /**
   * Epoch milliseconds of the last refresh; absent before the first. Items written since the session item was
   * trimmed to one write unit keep only `rotatedAt` (seconds), from which this is read back.
   */
  lastRefreshedAt?: number;
  /** The `User-Agent` and the address the login came from (at most 256 characters each; never a token). */
  userAgent?: string;
  ipAddress?: string;
  /**
   * Failures of re-entering the password from this session (`{f, t, l}`, see `OwnCountStore`): such a check is
   * judged by this count, not the name's. Absent when clear.
   */
  reauth?: unknown;
}

export const SESSION_PREFIX = tableSchema.keyPrefix.session;

/** The key of session `sid`'s item. */
export const sessionKey = (sid: string) => ({ [tableSchema.partitionKey]: `${SESSION_PREFIX}${sid}` });

/**
 * A stored session item (as the document client or `unmarshall` reads it) as a {@link Session}, whichever shape
 * wrote it: items written before the trim to one write unit carry `sid` and `lastRefreshedAt`; newer ones leave
 * out what the item already says (the id is in the key, the last refresh is `rotatedAt` once a rotation has
 * set `previousRefreshHash`).
 */
export function sessionFromItem(item: Record<string, unknown>): Session {
  const stored = item as unknown as Session & { pk?: unknown };
  const pk = item[tableSchema.partitionKey];
  const sid =
    typeof stored.sid === 'string'
      ? stored.sid
      : typeof pk === 'string' && pk.startsWith(SESSION_PREFIX)
        ? pk.slice(SESSION_PREFIX.length)
        : '';
  // Only a rotation sets `previousRefreshHash`: before the first, `rotatedAt` is the login's time.
  const lastRefreshedAt =
    stored.previousRefreshHash !== undefined && typeof stored.rotatedAt === 'number'
      ? Math.max(stored.rotatedAt * 1000, stored.lastRefreshedAt ?? 0)
      : stored.lastRefreshedAt;
  return { ...stored, sid, ...(lastRefreshedAt !== undefined && { lastRefreshedAt }) };
}

/**
 * Where a stored session stands for a token of user `sub`, by the one liveness rule every operation applies
 * (whose DynamoDB side, for a write, is `notRevoked` in conditions.ts): it must exist, belong to `sub`, not be revoked,
 * belong to its user's current revocation generation (so that logging out everywhere, a password change, an
 * account deletion and `disable` end every session at once, API.md "whole-user revocation"), and have begun
 * after `notBefore` (now minus `SESSION_MAX_AGE`). Expiry is judged here, never by whether DynamoDB's TTL sweep
 * has deleted the item yet.
 */
export type SessionState = 'live' | 'missing' | 'revoked' | 'too_old';

export function sessionState(
  stored: Session | undefined,
  account: AccountState,
  sub: string,
  notBefore: number,
): SessionState {
  // A session of another user is treated as absent for this token: it can never have been issued to it.
  if (!stored || stored.userId !== sub || account.userId !== sub) return 'missing';
  if (stored.revoked) return 'revoked';
  // Whole-user revocation: a session of an earlier generation (or of a deleted account) is over, but for the
  // one a password change carried over to the new generation (until any later whole-user revocation).
  if (account.deleted) return 'revoked';
  if ((stored.generation ?? 0) !== account.generation && account.carriedSession !== stored.sid)
    return 'revoked';
  if (stored.authTime <= notBefore) return 'too_old';
  return 'live';
}
