import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { all, conditionParams, itemExists, ownCountIs, ownCountReservedAs } from './conditions.ts';
import { conditional, storeCall } from './dynamodb.ts';
import {
  type FailureCount,
  type LockoutPolicy,
  ownLockAfterFailure,
  readCount,
  reserveOwnCheck,
  storedCount,
} from './lockout-policy.ts';
import { tableSchema } from './schema.ts';

/** Where a credential's own failure count is kept: an attribute (a map `{f, t, l}`) of an existing item. */
export interface OwnCountPlace {
  key: Record<string, string>;
  attribute: string;
}

/** Conditional writes a reservation retries on a fresh read before it answers "wait a second". */
const MAX_ROUNDS = 4;

/**
 * Failure counts kept on the credential they judge (API.md "Known devices"): a known device's item, a session's
 * item. Reservations are compare-and-set writes on the count as read, so racing checks are all counted and at
 * most `maxFailures` run before the count locks (see `reserveOwnCheck`); no write ever creates the item.
 */
export class OwnCountStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  readonly policy: LockoutPolicy;

  constructor(db: DynamoDBDocumentClient, tableName: string, policy: LockoutPolicy) {
    this.db = db;
    this.tableName = tableName;
    this.policy = policy;
  }

  /**
   * Reserves a check on the count at `place`, which the caller read as `seen` (the stored value, `undefined`
   * when there is none). Returns the seconds to wait (the count is locked, or contended), or the count stored.
   */
  async reserve(
    place: OwnCountPlace,
    seen: FailureCount | undefined,
    now: number,
  ): Promise<{ wait: number } | { reserved: FailureCount }> {
    let current = seen;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const decision = reserveOwnCheck(current, now, this.policy);
      if ('wait' in decision) return decision;
      const reserved = decision.reserved;
      const taken = await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: place.key,
            UpdateExpression: 'SET #count = :reserved',
            // The count as read, or none: a racing reservation changed it, and this one reads it again.
            ...conditionParams(all(itemExists, ownCountIs(place.attribute, current)), {
              names: { '#count': place.attribute },
              values: { ':reserved': storedCount(reserved) },
            }),
          }),
        ),
      );
      if (taken) return { reserved };
      current = await this.read(place);
    }
    return { wait: 1 };
  }

  /** The stored count at `place` (one consistent read). */
  async read(place: OwnCountPlace): Promise<FailureCount | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({
          TableName: this.tableName,
          Key: place.key,
          ConsistentRead: true,
          ProjectionExpression: '#count',
          ExpressionAttributeNames: { '#count': place.attribute },
        }),
      ),
    );
    return readCount(Item?.[place.attribute]);
  }

  /**
   * A reserved check failed: from the limit on, its count locks (growing). Below it the reservation already
   * counted the failure and nothing is written. Written only while the count is still this reservation's (a
   * success since has cleared it).
   */
  async recordFailure(place: OwnCountPlace, reserved: FailureCount, now: number): Promise<void> {
    const lockedUntil = ownLockAfterFailure(reserved, now, this.policy);
    if (lockedUntil === 0) return;
    await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: place.key,
          UpdateExpression: 'SET #count.l = :l',
          ...conditionParams(ownCountReservedAs(place.attribute, reserved), {
            names: { '#count': place.attribute },
            values: { ':l': lockedUntil },
          }),
        }),
      ),
    );
  }

  /**
   * A reserved check succeeded: the count goes (OWASP: a success resets it). `extend` also sets the item's TTL
   * attribute (a device stays known for its lifetime after each use). Never creates the item.
   */
  async clear(place: OwnCountPlace, extend?: { expiresAt: number }): Promise<void> {
    await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: place.key,
          UpdateExpression: `${extend ? 'SET #ttl = :ttl ' : ''}REMOVE #count`,
          ...conditionParams(itemExists, {
            names: { '#count': place.attribute, ...(extend && { '#ttl': tableSchema.ttlAttribute }) },
            ...(extend && { values: { ':ttl': extend.expiresAt } }),
          }),
        }),
      ),
    );
  }
}
