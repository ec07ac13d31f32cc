import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/**
 * What is stored under one (normalised) username: the account, if registered, and its failed-login counters.
 * Counters are kept for unknown usernames too, so that a lockout says nothing about who exists.
 */
export interface UserRecord {
  /** Present only for a registered account. */
  account?: { userId: string; username: string; passwordHash: string };
  failedCount: number;
  lastFailedAt: number;
  lockedUntil: number;
  /** Epoch seconds the account was registered (0 when not recorded or no account). */
  createdAt?: number;
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

/** The user store: accounts and their failed-login counters, one item per normalised username. */
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
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(input.username),
          // Counters left by failed logins for this name before it existed are kept; their TTL is removed so
          // that DynamoDB never sweeps a real account away.
          UpdateExpression:
            'SET userId = :id, username = :name, passwordHash = :hash, createdAt = :now REMOVE #ttl',
          ConditionExpression: 'attribute_not_exists(passwordHash)',
          ExpressionAttributeNames: { '#ttl': tableSchema.ttlAttribute },
          ExpressionAttributeValues: {
            ':id': input.userId,
            ':name': input.username,
            ':hash': input.passwordHash,
            ':now': input.now,
          },
        }),
      ),
    );
  }

  /** Reads what is stored under a username (strongly consistent, so lockouts are seen at once). */
  async getUser(username: string): Promise<UserRecord> {
    return toUserRecord(await this.#readItem(username));
  }

  /** The raw item under a username, read strongly consistently (a lock or a claim is seen at once). */
  async #readItem(username: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: userKey(username), ConsistentRead: true }),
      ),
    );
    return Item;
  }

  /**
   * Claims the one password check allowed at a time for a username: an atomic conditional write, so racing
   * attempts cannot all be checked before their failures are counted. It fails while the name is locked or
   * another check holds the claim (until `leaseUntil`, or until that check's outcome is recorded). Returns the
   * stored record, or the seconds to wait.
   */
  async claimCheck(
    username: string,
    now: number,
    leaseUntil: number,
  ): Promise<{ claimed: true; record: UserRecord } | { claimed: false; retryAfter: number }> {
    const claimed = await conditionalResult(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET checkingUntil = :lease',
          ConditionExpression:
            '(attribute_not_exists(lockedUntil) OR lockedUntil <= :now) AND (attribute_not_exists(checkingUntil) OR checkingUntil <= :now)',
          ExpressionAttributeValues: { ':lease': leaseUntil, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    if (claimed) return { claimed: true, record: toUserRecord(claimed.Attributes) };
    const item = await this.#readItem(username);
    const { lockedUntil } = toUserRecord(item);
    const checkingUntil = typeof item?.checkingUntil === 'number' ? item.checkingUntil : 0;
    return {
      claimed: false,
      retryAfter: Math.max(1, (lockedUntil > now ? lockedUntil : checkingUntil) - now),
    };
  }

  /**
   * Counts one failed login atomically (racing attempts all count) and returns the new count. `restart`
   * starts the count again from one (the previous failures are older than the window). For a name with no
   * account the item gets a TTL of `forgetAt`, so that guessed names do not accumulate forever. `lockUntil`
   * locks the name in the same write that releases the claim on the check, so no attempt slips in between.
   */
  async recordFailure(input: {
    username: string;
    now: number;
    restart: boolean;
    forgetAt: number;
    registered: boolean;
    lockUntil?: number | undefined;
  }): Promise<number> {
    const lock = input.lockUntil !== undefined;
    const send = (withTtl: boolean) =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(input.username),
          UpdateExpression: `SET failedCount = ${input.restart ? ':one' : 'if_not_exists(failedCount, :zero) + :one'}, lastFailedAt = :now${withTtl ? ', #ttl = :forget' : ''}${lock ? ', lockedUntil = :until' : ''} REMOVE checkingUntil`,
          // A TTL must never land on an account registered between our read and this write.
          ...(withTtl && { ConditionExpression: 'attribute_not_exists(passwordHash)' }),
          ExpressionAttributeNames: withTtl ? { '#ttl': tableSchema.ttlAttribute } : undefined,
          ExpressionAttributeValues: {
            ':one': 1,
            ':now': input.now,
            ...(!input.restart && { ':zero': 0 }),
            ...(withTtl && { ':forget': input.forgetAt }),
            ...(lock && { ':until': input.lockUntil }),
          },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    let result = input.registered ? undefined : await conditionalResult(() => send(true));
    if (!result) result = await storeCall(() => send(false));
    return Number(result.Attributes?.failedCount ?? 1);
  }

  /** Locks a username against logins until `lockedUntil` (epoch seconds), unless it is locked longer already. */
  async lock(username: string, lockedUntil: number): Promise<void> {
    // Conditional, so that a slower racer with a shorter lock can never shorten a longer one.
    await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET lockedUntil = :until',
          ConditionExpression: 'attribute_not_exists(lockedUntil) OR lockedUntil < :until',
          ExpressionAttributeValues: { ':until': lockedUntil },
        }),
      ),
    );
  }

  /**
   * After a successful login: clears the failure counters and, when given, replaces the password hash (one
   * made with older parameters is upgraded on the user's next successful login).
   */
  async recordSuccess(username: string, newPasswordHash?: string): Promise<void> {
    await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: `SET failedCount = :zero, lockedUntil = :zero${newPasswordHash ? ', passwordHash = :hash' : ''} REMOVE checkingUntil`,
          ExpressionAttributeValues: { ':zero': 0, ...(newPasswordHash && { ':hash': newPasswordHash }) },
        }),
      ),
    );
  }

  /**
   * Replaces the password hash of `username` while it is still the account of `userId`, clearing its failure
   * counters and any claim on a check (as a successful login does). Returns whether it was still that account.
   */
  async replacePasswordHash(username: string, userId: string, passwordHash: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression:
            'SET passwordHash = :hash, failedCount = :zero, lockedUntil = :zero REMOVE checkingUntil',
          ConditionExpression: 'userId = :uid',
          ExpressionAttributeValues: { ':hash': passwordHash, ':uid': userId, ':zero': 0 },
        }),
      ),
    );
  }

  /**
   * Gives a name whose account was deleted (its item left behind by a deletion that could not clean up) to a new
   * account: one write, conditional on the item still holding the deleted account `previousUserId`. The old
   * item's counters go with it. Returns whether it did.
   */
  async reclaimName(
    previousUserId: string,
    input: { userId: string; username: string; passwordHash: string; now: number },
  ): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...userKey(input.username),
            userId: input.userId,
            username: input.username,
            passwordHash: input.passwordHash,
            createdAt: input.now,
          },
          ConditionExpression: 'userId = :previous',
          ExpressionAttributeValues: { ':previous': previousUserId },
        }),
      ),
    );
  }

  /**
   * Deletes the item of `username` (the account and its failure counters: lock state never carries over to an
   * account registered under the name later), while it is still the account of `userId`. Deleting it twice is
   * not an error.
   */
  async deleteAccount(username: string, userId: string): Promise<void> {
    await conditional(() =>
      this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: userKey(username),
          ConditionExpression: 'userId = :uid',
          ExpressionAttributeValues: { ':uid': userId },
        }),
      ),
    );
  }

  /**
   * Every registered account: user id, username and creation time (epoch seconds), never a hash. A scan of the
   * table (administration only: it reads every item once).
   */
  async listAccounts(): Promise<{ userId: string; username: string; createdAt: number }[]> {
    const accounts: { userId: string; username: string; createdAt: number }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await storeCall(() =>
        this.db.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: 'begins_with(#pk, :user) AND attribute_exists(passwordHash)',
            ProjectionExpression: 'userId, username, createdAt',
            ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
            ExpressionAttributeValues: { ':user': tableSchema.keyPrefix.user },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        if (typeof item.userId === 'string' && typeof item.username === 'string')
          accounts.push({
            userId: item.userId,
            username: item.username,
            createdAt: typeof item.createdAt === 'number' ? item.createdAt : 0,
          });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return accounts.sort((a, b) => a.username.localeCompare(b.username));
  }
}

function toUserRecord(stored: Record<string, unknown> | undefined): UserRecord {
  const item = (stored ?? {}) as Record<string, unknown>;
  const num = (value: unknown) => (typeof value === 'number' ? value : 0);
  const account =
    typeof item.passwordHash === 'string' &&
    typeof item.userId === 'string' &&
    typeof item.username === 'string'
      ? { userId: item.userId, username: item.username, passwordHash: item.passwordHash }
      : undefined;
  return {
    ...(account && { account }),
    failedCount: num(item.failedCount),
    lastFailedAt: num(item.lastFailedAt),
    lockedUntil: num(item.lockedUntil),
    createdAt: num(item.createdAt),
  };
}

async function conditionalResult<T>(call: () => Promise<T>): Promise<T | undefined> {
  let result: T | undefined;
  const applied = await conditional(async () => {
    result = await call();
  });
  return applied ? result : undefined;
}
