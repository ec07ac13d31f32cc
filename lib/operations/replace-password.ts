import type { Services } from '../services.ts';

/** A new password hash for an account, and which session (if any) survives the replacement. */
export interface PasswordReplacement {
  userId: string;
  /** The normalised username: its item keeps a copy of the hash, which the lockout's admission reads. */
  username: string;
  /** The new hash (argon2id of the NFKC-normalised password). */
  passwordHash: string;
  /**
   * A password change: the caller's session, kept live. `generation` is the user's generation it was judged
   * live at, `sessionGeneration` the one its item records (they differ for a session an earlier change carried
   * over). Absent (a reset): every session of the user ends.
   */
  keep?: { sessionId: string; generation: number; sessionGeneration: number };
}

/**
 * Replaces a user's password and revokes their sessions (all of them, or all but `keep`'s), so that no login
 * with the old password that overlaps the replacement keeps a session, however the requests interleave
 * (API.md `POST /auth/password`).
 *
 * The commit is one write of the account item: the new hash and the next generation together
 * (`AccountStore.replacePassword`). A password check judges the hash it matched together with the account state
 * read in the same read (`checkPassword`), and a session joins that state's generation: a check that matched
 * the old hash therefore joins a generation this write ends. Then, each repeatable and harmless if it fails
 * (a 503 the caller retries; `checkPassword` recognises the repeat): the kept session's item joins the new
 * generation's index partition (listings), and the name's item gets the hash copy.
 *
 * Returns `false` when nothing was written: the account was deleted, or (with `keep`) another whole-user
 * revocation came first, so the kept session is over too. Requests: one write, plus one for the kept session,
 * plus one for the copy. Errors: `503` when DynamoDB fails.
 */
export async function replacePassword(
  services: Services,
  replacement: PasswordReplacement,
): Promise<boolean> {
  const { userId, username, passwordHash, keep } = replacement;
  const committed = await services.accounts.replacePassword(
    userId,
    passwordHash,
    keep && { sessionId: keep.sessionId, generation: keep.generation },
  );
  if (!committed) return false;
  await finishReplacement(services, {
    userId,
    username,
    passwordHash,
    ...(keep && {
      carry: { sessionId: keep.sessionId, from: keep.sessionGeneration, to: keep.generation + 1 },
    }),
  });
  return true;
}

/**
 * The steps after the commit (see {@link replacePassword}): also what a repeat of an already committed change
 * runs, with the hash the account holds. `carry` moves the kept session's item from generation `from` to `to`
 * (a kept session revoked meanwhile, by its own logout, is not carried: its revocation stands).
 */
export async function finishReplacement(
  services: Services,
  done: {
    userId: string;
    username: string;
    passwordHash: string;
    carry?: { sessionId: string; from: number; to: number };
  },
): Promise<void> {
  const { userId, username, passwordHash, carry } = done;
  if (carry && carry.from !== carry.to)
    await services.sessions.carryOver(carry.sessionId, userId, carry.from, carry.to);
  // `false` when the name is no longer this account's (deleted, the name taken): nothing to copy to.
  await services.users.replacePasswordHash(username, userId, passwordHash);
}
