import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** A registered account, as stored under its normalised username. */
export interface UserAccount {
  userId: string;
  username: string;
  passwordHash: string;
}

/** The account an item under a username holds, or `undefined` for an unregistered name (or no item). */
export function accountOf(stored: Record<string, unknown> | undefined): UserAccount | undefined {
  if (
    typeof stored?.passwordHash !== 'string' ||
    typeof stored.userId !== 'string' ||
    typeof stored.username !== 'string'
  )
    return undefined;
  return { userId: stored.userId, username: stored.username, passwordHash: stored.passwordHash };
}

const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._@+-]{2,63}$/;

/**
 * The stored form of a username: NFKC-normalised, trimmed and lower-cased, so that `Alice` and `alice` are one
 * account. Returns `undefined` when the result is not 3-64 characters of `a-z 0-9 . _ @ + -` (starting with a
 * letter or digit).
 */
export function normaliseUsername(raw: string): string | undefined {
  const normalised = raw.normalize('NFKC').trim().toLowerCase();
  return USERNAME_PATTERN.test(normalised) ? normalised : undefined;
}

const userKey = (username: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.user}${username}`,
});

/**
 * The user store: one item per normalised username holding the account. The same item carries the name's
 * login-attempt state (see `login-attempts.ts`), for unknown names too, so that a lockout says nothing about who
 * exists.
 */
export class UserStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Creates an account; returns `false` when the username is already registered by someone else. When the SDK
   * retried a write whose answer was lost, the retry fails its condition on our own account: that is success.
   */
  async createUser(input: {
    userId: string;
    username: string;
    passwordHash: string;
    now: number;
  }): Promise<boolean> {
    if (await this.#putAccount(input)) return true;
    return (await this.#readItem(input.username))?.userId === input.userId;
  }

  #putAccount(input: {
    userId: string;
    username: string;
    passwordHash: string;
    now: number;
  }): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          // A whole new item: whatever failed logins left under this name before it was registered (check slots,
          // pair counts, the hourly period, the TTL) is gone, so no lock carries over to the new account
          // (API.md "Brute force").
          Item: {
            ...userKey(input.username),
            userId: input.userId,
            username: input.username,
            passwordHash: input.passwordHash,
            createdAt: input.now,
          },
          ConditionExpression: 'attribute_not_exists(passwordHash)',
        }),
      ),
    );
  }

  /** The account registered under a username, if any (strongly consistent read). */
  async getAccount(username: string): Promise<UserAccount | undefined> {
    return accountOf(await this.#readItem(username));
  }

  /** The raw item under a username, read strongly consistently. */
  async #readItem(username: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: userKey(username), ConsistentRead: true }),
      ),
    );
    return Item;
  }
}
