import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** A limit: at most `max` per `window` seconds (a fixed window that starts with its first use). */
export interface RateLimit {
  max: number;
  window: number;
}

/** The mail and request limits (API.md "E-mail and account recovery"). */
export const mailLimits = {
  /** Reset mails per account per hour. */
  resetMails: { max: 3, window: 3600 },
  /** Verification mails asked for again (`POST /auth/email/resend`) per account per hour. */
  verificationResends: { max: 3, window: 3600 },
  /**
   * Forgot-password requests per client address per hour that lead to a mail: one address cannot mail-bomb many
   * accounts. Beyond it the answer is still `202 {}`, and nothing is sent.
   */
  forgotRequestsPerAddress: { max: 10, window: 3600 },
} as const satisfies Record<string, RateLimit>;

/** What taking a slot found: taken, or the window full with the seconds until it ends. */
export type SlotAnswer = { taken: true } | { taken: false; retryAfter: number };

const limitKey = (scope: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.limit}${scope}`,
});

/**
 * Fixed-window counters (`limit#<scope>`), each slot taken by a conditional write so that of any number of
 * concurrent takers at most `max` succeed per window; the item carries a TTL so that old windows are swept.
 */
export class LimitStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Takes one slot of `limit` under `scope` at `now` (epoch seconds): either a new window (when there is none or
   * the last one ended), or the next count of the current one while it is below `max`. Each is one conditional
   * write; a window that ended between the two is tried once more.
   */
  async take(scope: string, limit: RateLimit, now: number): Promise<SlotAnswer> {
    const cutoff = now - limit.window;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const opened = await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: limitKey(scope),
            UpdateExpression: 'SET windowStart = :now, #count = :one, #ttl = :end',
            ConditionExpression: 'attribute_not_exists(windowStart) OR windowStart <= :cutoff',
            ExpressionAttributeNames: { '#count': 'count', '#ttl': tableSchema.ttlAttribute },
            ExpressionAttributeValues: {
              ':now': now,
              ':one': 1,
              ':end': now + limit.window,
              ':cutoff': cutoff,
            },
          }),
        ),
      );
      if (opened) return { taken: true };
      const counted = await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: limitKey(scope),
            UpdateExpression: 'ADD #count :one',
            ConditionExpression: 'windowStart > :cutoff AND #count < :max',
            ExpressionAttributeNames: { '#count': 'count' },
            ExpressionAttributeValues: { ':one': 1, ':cutoff': cutoff, ':max': limit.max },
          }),
        ),
      );
      if (counted) return { taken: true };
      const { Item } = await storeCall(() =>
        this.db.send(
          new GetCommand({ TableName: this.tableName, Key: limitKey(scope), ConsistentRead: true }),
        ),
      );
      const start = typeof Item?.windowStart === 'number' ? Item.windowStart : 0;
      if (start > cutoff) return { taken: false, retryAfter: start + limit.window - now };
    }
    return { taken: false, retryAfter: 1 };
  }

  /** Gives a slot back (its mail could not be sent), never below zero. */
  async release(scope: string): Promise<void> {
    await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: limitKey(scope),
          UpdateExpression: 'ADD #count :minus',
          ConditionExpression: '#count > :zero',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':minus': -1, ':zero': 0 },
        }),
      ),
    );
  }
}
