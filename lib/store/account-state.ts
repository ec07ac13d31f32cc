/* Pure: the account item's shape, without the SDK (the authorizer's bundle reads it with a client of its own). */
import { tableSchema } from './schema.ts';

/**
 * What the service knows of a user by its id (not by its name): the state every request of the user's sessions
 * is judged against. One item per user id (`account#<userId>`), so that the authorizer can read it in the same
 * request as the session the token names (the token carries the user id, not the name).
 *
 * A user with no such item yet (registered before it existed, or never changed) has the defaults: generation
 * 0, no roles, enabled.
 */
export interface AccountState {
  userId: string;
  /**
   * The user's revocation generation: a session is live only while it belongs to the current one. Logging out
   * everywhere, a password change, an account deletion and an administrator's `disable` move the user to the
   * next generation in one conditional write: every session that existed is then dead at once, wherever its
   * tokens are presented, and no per-session write is needed. A counter, not a time: no clock of any machine
   * decides whether a session created a moment before escapes.
   */
  generation: number;
  /** Roles the user has (RFC 9068 §7.2.1.1 style); put in access tokens at the next login or refresh. */
  roles: string[];
  /** Set by an administrator: logins answer `403 account_disabled`. */
  disabled: boolean;
  /** The account was deleted: this item is only a tombstone keeping its sessions dead until they end anyway. */
  deleted: boolean;
  /**
   * The one session a password change carried over to the current generation (live whatever generation its item
   * says, until the next whole-user revocation): so that the change can revoke all other sessions in one write.
   */
  carriedSession?: string;
}

/** Roles are names of 1-64 characters of `a-z 0-9 : . _ -` (no comma: the authorizer context joins them with one). */
export const ROLE_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,63}$/;

export const accountKey = (userId: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.account}${userId}`,
});

/** The account state of `userId` from a stored item (or its absence). */
export function toAccountState(userId: string, item: Record<string, unknown> | undefined): AccountState {
  // Stored as a string set (the document client reads it as a `Set`).
  const stored = item?.roles;
  const roles =
    stored instanceof Set || Array.isArray(stored)
      ? [...stored].filter((role): role is string => typeof role === 'string')
      : [];
  return {
    userId,
    generation: typeof item?.generation === 'number' ? item.generation : 0,
    roles: [...new Set(roles)].sort(),
    disabled: item?.disabled === true,
    deleted: item?.deleted === true,
    ...(typeof item?.carriedSession === 'string' && { carriedSession: item.carriedSession }),
  };
}
