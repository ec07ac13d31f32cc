import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** Who holds an address: the account (by id and by the name its item lives under) and since when. */
export interface EmailClaim {
  email: string;
  userId: string;
  username: string;
  /** Epoch seconds the claim was written. */
  claimedAt: number;
}

/**
 * Seconds a claim is honoured even though no account item names the address yet: the time between a
 * registration's claim and its account write (or an address change's claim and its update). After it, a claim no
 * account item confirms (left by a registration that lost its name, a change that failed half-way, a deleted
 * account) is stale, and the address is free.
 */
export const CLAIM_GRACE = 60;

export const emailKey = (email: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.email}${email}`,
});

const claimOf = (item: Record<string, unknown> | undefined): EmailClaim | undefined =>
  typeof item?.userId === 'string' && typeof item.username === 'string' && typeof item.email === 'string'
    ? {
        email: item.email,
        userId: item.userId,
        username: item.username,
        claimedAt: typeof item.claimedAt === 'number' ? item.claimedAt : 0,
      }
    : undefined;

/**
 * The address claims: one item per normalised address (`email#<address>`) naming the account that holds it, so
 * that an address belongs to at most one account (case-insensitive: addresses are stored lower-cased) without a
 * transaction. The account item (`user#<name>`, field `email`) is the truth; the claim is the lock taken
 * before it: a claim is binding while its account item names the address, or for {@link CLAIM_GRACE} seconds
 * after it was written, and otherwise stale and free to take over.
 */
export class EmailStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** The claim of `email`, if any (strongly consistent). */
  async getClaim(email: string): Promise<EmailClaim | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: emailKey(email), ConsistentRead: true })),
    );
    return claimOf(Item);
  }

  /**
   * Claims `email` for an account in one conditional write: it succeeds when nobody holds the address, or when
   * this account already does (a write whose answer was lost and that the SDK sent again). Returns the claim
   * that stands in the way otherwise, for the caller to judge (see {@link CLAIM_GRACE}).
   */
  async claim(
    claim: EmailClaim,
  ): Promise<{ claimed: true } | { claimed: false; holder: EmailClaim | undefined }> {
    const written = await conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...emailKey(claim.email), ...claim },
          ConditionExpression: 'attribute_not_exists(userId) OR userId = :uid',
          ExpressionAttributeValues: { ':uid': claim.userId },
        }),
      ),
    );
    if (written) return { claimed: true };
    return { claimed: false, holder: await this.getClaim(claim.email) };
  }

  /**
   * Takes over a stale claim: one write conditional on the claim still being exactly `stale` (same holder,
   * same time), so that of two accounts taking over one stale claim at once exactly one succeeds.
   */
  async takeOver(stale: EmailClaim, claim: EmailClaim): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...emailKey(claim.email), ...claim },
          ConditionExpression: 'userId = :stale AND claimedAt = :at',
          ExpressionAttributeValues: { ':stale': stale.userId, ':at': stale.claimedAt },
        }),
      ),
    );
  }

  /** Gives up `email` while `userId` still holds it (releasing it twice, or another's, does nothing). */
  async release(email: string, userId: string): Promise<void> {
    await conditional(() =>
      this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: emailKey(email),
          ConditionExpression: 'userId = :uid',
          ExpressionAttributeValues: { ':uid': userId },
        }),
      ),
    );
  }
}
