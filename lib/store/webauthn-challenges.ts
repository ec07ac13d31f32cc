import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** Seconds a WebAuthn challenge may be answered in (API.md "Passkeys": 300). */
export const CHALLENGE_LIFETIME = 300;

/**
 * What a ceremony's challenge is for: registering a passkey to a session's user, a passwordless sign-in, or a
 * second factor after a password. A challenge answers only the ceremony it was issued for.
 */
export type ChallengePurpose = 'register' | 'login' | 'mfa';

/** A pending ceremony: its random challenge (base64url) and whom it was issued to. */
export interface PendingChallenge {
  challenge: string;
  purpose: ChallengePurpose;
  /** The user it was issued to: for registration and a second factor; none for a passwordless sign-in. */
  userId?: string;
  /** Epoch seconds after which it is refused, whether or not DynamoDB's TTL sweep has deleted it yet. */
  expiresAt: number;
}

const challengeKey = (challengeId: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.webauthnChallenge}${challengeId}`,
});

/**
 * Pending WebAuthn challenges (W3C WebAuthn Level 2, 13.4.3: random, at least 16 bytes, used once). Each is one
 * item, whose TTL attribute lets DynamoDB sweep the unanswered ones; it is consumed by one conditional delete,
 * so of any number of requests presenting the same challenge exactly one gets it, and an answer to it that
 * fails verification has used it up all the same.
 */
export class WebAuthnChallengeStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Stores a challenge under `challengeId` (a random id, or one per session for registration, where a new
   * request replaces the pending one), for {@link CHALLENGE_LIFETIME} seconds from `now`.
   */
  async issue(
    challengeId: string,
    pending: Omit<PendingChallenge, 'expiresAt'>,
    now: number,
  ): Promise<PendingChallenge> {
    const expiresAt = now + CHALLENGE_LIFETIME;
    await storeCall(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...challengeKey(challengeId),
            ...pending,
            expiresAt,
            [tableSchema.ttlAttribute]: expiresAt,
          },
        }),
      ),
    );
    return { ...pending, expiresAt };
  }

  /**
   * Takes the challenge stored under `challengeId` for `purpose`, deleting it in the same conditional write
   * (`ReturnValues: ALL_OLD`): `undefined` when there is none, it has expired, it was issued for another purpose
   * or user, or another request took it first.
   */
  async consume(
    challengeId: string,
    purpose: ChallengePurpose,
    now: number,
    userId?: string,
  ): Promise<PendingChallenge | undefined> {
    let taken: Record<string, unknown> | undefined;
    const consumed = await conditional(async () => {
      taken = (
        await this.db.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: challengeKey(challengeId),
            ConditionExpression: `attribute_exists(#pk) AND purpose = :purpose AND expiresAt > :now${
              userId === undefined ? '' : ' AND userId = :userId'
            }`,
            ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
            ExpressionAttributeValues: {
              ':purpose': purpose,
              ':now': now,
              ...(userId !== undefined && { ':userId': userId }),
            },
            ReturnValues: 'ALL_OLD',
          }),
        )
      ).Attributes;
    });
    if (!consumed || typeof taken?.challenge !== 'string' || typeof taken.expiresAt !== 'number')
      return undefined;
    return {
      challenge: taken.challenge,
      purpose,
      ...(typeof taken.userId === 'string' && { userId: taken.userId }),
      expiresAt: taken.expiresAt,
    };
  }
}
