import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { describeError, logEvent } from '../observability/log.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';

/** How many session items account deletion deletes at once. */
const DELETE_CONCURRENCY = 10;

/**
 * Seconds the tombstone outlives `SESSION_MAX_AGE` after the deletion. A login that read the account before the
 * deletion landed stores its session afterwards, at the old generation, with its own clock's `authTime`: that
 * session ends at most the login's run time (Lambda's 15-minute ceiling; the login function's timeout is 10 s)
 * plus the two machines' clock skew after the deletion's `now + SESSION_MAX_AGE`. Once the tombstone is swept
 * the user id reads as "generation 0, enabled", so no session of the deleted user may outlive it: an hour
 * covers both terms with room to spare, for one small item per deleted account.
 */
export const TOMBSTONE_MARGIN = 3600;

/**
 * Deletes the caller's account, re-authenticated by its password (`checkFromSession`: judged by this session's
 * own failure count, never the name's).
 *
 * The commit point is one write: the account is marked deleted, which ends every session of the user at once
 * (the generation moves on) and frees the name (login refuses the old account, registration may take the name
 * even before its item is gone). Then the user's items are deleted: the name's item (password hash, counters),
 * the passkeys and the sessions the live-session index lists. A fault before the commit is a 503 the client can retry; a
 * fault after it is logged and left to DynamoDB's TTL (answering 503 would invite a retry that can only be
 * refused, since the caller's session is over).
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`, `400 invalid_request`.
 */
export async function deleteAccount(
  services: Services,
  accessToken: string | undefined,
  password: string,
): Promise<void> {
  const caller = await authenticate(services, accessToken);
  const { userId, username, sessionId, account } = caller;
  const checked = await checkFromSession(services, caller, password);
  if (checked.account.userId !== userId) throw new ApiError('session_revoked');
  const sessionIds = new Set(await services.sessions.listLiveSessionIds(userId, account.generation));
  sessionIds.add(sessionId);

  const now = nowSeconds();
  // The tombstone guards every session the user has or is still being given: it is swept no earlier than the
  // latest end any of them can have (see TOMBSTONE_MARGIN).
  await services.accounts.markDeleted(userId, now + services.config.sessionMaxAge + TOMBSTONE_MARGIN);

  try {
    await services.users.deleteAccount(username, userId);
    await services.passkeys.removeAll(userId);
    const sids = [...sessionIds];
    for (let i = 0; i < sids.length; i += DELETE_CONCURRENCY) {
      await Promise.all(
        sids.slice(i, i + DELETE_CONCURRENCY).map((sid) => services.sessions.deleteSession(sid)),
      );
    }
  } catch (error) {
    logEvent('warn', 'account deleted; some of its items are left to the TTL', {
      userId,
      ...describeError(error),
    });
  }
}
