import { tableSchema } from './schema.ts';

/**
 * Every DynamoDB condition the stores write, each clause once and by name: a rule that holds in TypeScript
 * (`sessionState`, the lockout policy) and again in the table is read here on its DynamoDB side. Each fragment
 * has a test that breaks only the condition (a race injected between the read and the write, or a state only
 * the condition can refuse): test/integration/conditions.test.ts.
 *
 * A fragment binds its own placeholders (`#`names and `:`values, prefixed `c_` so that they never meet an update
 * expression's own); {@link all} joins fragments with `AND`, and {@link conditionParams} turns the result into
 * the command's `ConditionExpression` and attribute maps, merged with the update expression's.
 */
export interface Condition {
  expression: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
}

/** The partition key's placeholder, shared by the fragments on the item's existence. */
const PK = { '#c_pk': tableSchema.partitionKey };

/** No item under this key yet: a put never replaces what is there (a session, an account). */
export const itemAbsent: Condition = { expression: 'attribute_not_exists(#c_pk)', names: PK };

/** An item exists under this key: an update never creates a stub item (a session already swept by the TTL). */
export const itemExists: Condition = { expression: 'attribute_exists(#c_pk)', names: PK };

/**
 * The item belongs to user `userId` (a session, the name's account): a write scoped to its owner, so that nobody
 * changes another user's session, and nothing lands on an account that replaced the one that was read.
 */
export const ownedBy = (userId: string): Condition => ({
  expression: 'userId = :c_owner',
  values: { ':c_owner': userId },
});

/**
 * The session is not revoked: the part of `sessionState`'s liveness that can change on the session item between a
 * read and a write (a logout, a reuse detection, a revocation of one session). The other parts cannot: the
 * generation a session item holds moves only by a carry-over (which keeps the session live), the account's
 * generation is on another item (a whole-user revocation landing after the read leaves the written tokens dead
 * on arrival, since every use reads the account again), and `authTime` is written once, at the login.
 */
export const notRevoked: Condition = { expression: 'revoked = :c_false', values: { ':c_false': false } };

/** The account item is still at the user's revocation generation `generation`: an item without one is at 0. */
export const atGeneration = (generation: number): Condition => ({
  expression:
    generation === 0
      ? '(attribute_not_exists(generation) OR generation = :c_generation)'
      : 'generation = :c_generation',
  values: { ':c_generation': generation },
});

/**
 * A session being carried over from generation `from` to `to`: still at `from`, or already at `to` (the same
 * carry-over, retried).
 */
export const generationMoving = (from: number, to: number): Condition => ({
  expression: `(${from === 0 ? 'attribute_not_exists(generation) OR ' : ''}generation = :c_from OR generation = :c_to)`,
  values: { ':c_from': from, ':c_to': to },
});

/** The account is not deleted: a password is never put on a tombstone. */
export const accountNotDeleted: Condition = { expression: 'attribute_not_exists(deleted)' };

/** The account's password hash is still the one checked: a password replaced meanwhile is never overwritten. */
export const passwordHashIs = (hash: string): Condition => ({
  expression: 'passwordHash = :c_passwordHash',
  values: { ':c_passwordHash': hash },
});

/** The session's current refresh token is still the one presented (by its hash): a rotation's compare-and-set. */
export const refreshHashIs = (hash: string): Condition => ({
  expression: 'refreshHash = :c_refreshHash',
  values: { ':c_refreshHash': hash },
});

/**
 * A credential's own failure count (API.md "Known devices": a device's, a session's re-entries) at `attribute` is
 * still the count read (`undefined`: none stored): the compare-and-set by which a check is reserved, so that of
 * racing checks each reserves on the count the one before it left, and at most `LOGIN_MAX_FAILURES` run before
 * it locks. Tested by breaking only this condition: test/integration/device-race.test.ts.
 */
export const ownCountIs = (
  attribute: string,
  count: { failures: number; lastFailedAt: number; lockedUntil: number } | undefined,
): Condition =>
  count
    ? {
        expression: '#c_count.f = :c_f AND #c_count.t = :c_t AND #c_count.l = :c_l',
        names: { '#c_count': attribute },
        values: { ':c_f': count.failures, ':c_t': count.lastFailedAt, ':c_l': count.lockedUntil },
      }
    : { expression: 'attribute_not_exists(#c_count)', names: { '#c_count': attribute } };

/**
 * The count at `attribute` is still the one a check reserved (its failures and time; the lock may have moved):
 * a failure's lock is written only while no success (which removes the count) or later reservation came between.
 */
export const ownCountReservedAs = (
  attribute: string,
  reserved: { failures: number; lastFailedAt: number },
): Condition => ({
  expression: '#c_count.f = :c_f AND #c_count.t = :c_t',
  names: { '#c_count': attribute },
  values: { ':c_f': reserved.failures, ':c_t': reserved.lastFailedAt },
});

/** No account is registered under the name (its item may hold login-attempt state): registration, a guess's TTL. */
export const nameUnregistered: Condition = { expression: 'attribute_not_exists(passwordHash)' };

/**
 * All of `parts`, joined with `AND`. A fragment with an `OR` brings its own parentheses: DynamoDB refuses
 * redundant ones, so none are added here.
 */
export function all(...parts: Condition[]): Condition {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const part of parts) {
    merge(names, part.names);
    merge(values, part.values);
  }
  return {
    expression: parts.map((part) => part.expression).join(' AND '),
    ...(Object.keys(names).length > 0 && { names }),
    ...(Object.keys(values).length > 0 && { values }),
  };
}

/**
 * A command's condition parameters: `ConditionExpression`, and the condition's names and values merged with the
 * update expression's own (`update`). Throws when a placeholder would be bound to two different values.
 */
export function conditionParams(
  condition: Condition,
  update: { names?: Record<string, string>; values?: Record<string, unknown> } = {},
): {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  const names = merge(merge({}, update.names), condition.names);
  const values = merge(merge({}, update.values), condition.values);
  return {
    ConditionExpression: condition.expression,
    ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
    ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
  };
}

function merge<T>(into: Record<string, T>, from: Record<string, T> | undefined): Record<string, T> {
  for (const [key, value] of Object.entries(from ?? {})) {
    if (key in into && into[key] !== value) throw new Error(`placeholder ${key} bound twice`);
    into[key] = value;
  }
  return into;
}
