import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type AccountState, accountKey, toAccountState } from './account-state.ts';
import { type Condition, conditionParams, nameUnregistered, ownedBy, passwordHashIs } from './conditions.ts';
import { batchGetConsistent, conditional, storeCall } from './dynamodb.ts';
import { accountOf, type UserAccount, userKey } from './name-item.ts';
import { tableSchema } from './schema.ts';

export { accountOf, type UserAccount, userKey } from './name-item.ts';

/** A new account as registration writes it. */
export interface NewAccount {
  userId: string;
  username: string;
  passwordHash: string;
  email?: string | undefined;
  now: number;
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
  async createUser(input: NewAccount): Promise<boolean> {
    if (await this.#putAccount(input)) return true;
    return (await this.#readItem(input.username))?.userId === input.userId;
  }

  #putAccount(input: NewAccount): Promise<boolean> {
    return this.#putNewAccount(input, nameUnregistered);
  }

  /**
   * Writes a whole new account item under `condition`: whatever failed logins left under this name before it was
   * registered (check slots, pair counts, the hourly period, the TTL), or whatever a deleted account left, is
   * gone, so no lock carries over to the new account (API.md "Brute force"). Returns whether it was written.
   */
  #putNewAccount(input: NewAccount, condition: Condition): Promise<boolean> {
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
            ...(input.email !== undefined && { email: input.email, emailVerified: false }),
          },
          ...conditionParams(condition),
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

  /**
   * The item under `username`, the account item of `userId` (its state and the password hash it holds, if any)
   * and the item under `extraKey` if given, in one strongly consistent `BatchGetItem`.
   */
  async getWithAccount(
    username: string,
    userId: string,
    extraKey?: Record<string, string>,
  ): Promise<{
    nameItem: Record<string, unknown> | undefined;
    state: AccountState;
    passwordHash?: string;
    extraItem?: Record<string, unknown>;
  }> {
    const keys = [userKey(username), accountKey(userId), ...(extraKey ? [extraKey] : [])];
    const items = await batchGetConsistent(this.db, this.tableName, keys);
    const pk = tableSchema.partitionKey;
    const find = (key: Record<string, string>) => items.find((item) => item[pk] === key[pk]);
    const accountItem = find(accountKey(userId));
    const extraItem = extraKey && find(extraKey);
    return {
      nameItem: find(userKey(username)),
      state: toAccountState(userId, accountItem),
      ...(typeof accountItem?.passwordHash === 'string' && { passwordHash: accountItem.passwordHash }),
      ...(extraItem && { extraItem }),
    };
  }

  /**
   * Stores `newHash` (the same password under current parameters) as the name's copy, only while `checkedHash`
   * is still the copy held. Returns whether it was stored.
   */
  async rehashPassword(username: string, checkedHash: string, newHash: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET passwordHash = :new',
          ...conditionParams(passwordHashIs(checkedHash), { values: { ':new': newHash } }),
        }),
      ),
    );
  }

  /**
   * Replaces the password hash of `username` while it is still the account of `userId` (a password change).
   * Returns whether it was still that account.
   */
  async replacePasswordHash(username: string, userId: string, passwordHash: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET passwordHash = :hash',
          ...conditionParams(ownedBy(userId), { values: { ':hash': passwordHash } }),
        }),
      ),
    );
  }

  /**
   * Sets the address of `username` (unverified) while it is still the account of `userId`. Returns whether it
   * was, and the address it had before (`undefined` for none).
   */
  async setEmail(
    username: string,
    userId: string,
    email: string,
  ): Promise<{ updated: boolean; previous: string | undefined }> {
    let previous: string | undefined;
    const updated = await conditional(async () => {
      const { Attributes } = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET email = :email, emailVerified = :false',
          ConditionExpression: 'userId = :uid',
          ExpressionAttributeValues: { ':email': email, ':false': false, ':uid': userId },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      previous = typeof Attributes?.email === 'string' ? Attributes.email : undefined;
    });
    return { updated, previous };
  }

  /**
   * Marks the address of `username` verified, while it is still the account of `userId` and its address is
   * still `email` (a link sent to an address the account has since left verifies nothing). Returns whether it did.
   */
  async markEmailVerified(username: string, userId: string, email: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: 'SET emailVerified = :true',
          ConditionExpression: 'userId = :uid AND email = :email',
          ExpressionAttributeValues: { ':true': true, ':uid': userId, ':email': email },
        }),
      ),
    );
  }

  /**
   * Gives a name whose account was deleted (its item left behind by a deletion that could not clean up) to a new
   * account: a whole new item, in one write conditional on the item still holding the deleted account
   * `previousUserId` (nothing of the old item, lock state included, carries over). Returns whether it did.
   */
  async reclaimName(previousUserId: string, input: NewAccount): Promise<boolean> {
    return this.#putNewAccount(input, ownedBy(previousUserId));
  }

  /**
   * Deletes the item of `username` (the account and its lock state: none carries over to an account registered
   * under the name later), while it is still the account of `userId`. Deleting it twice is not an error.
   */
  async deleteAccount(username: string, userId: string): Promise<void> {
    await conditional(() =>
      this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: userKey(username),
          ...conditionParams(ownedBy(userId)),
        }),
      ),
    );
  }

  /** Epoch seconds `username` was registered (0 when not recorded or not registered). */
  async createdAt(username: string): Promise<number> {
    const item = await this.#readItem(username);
    return typeof item?.createdAt === 'number' ? item.createdAt : 0;
  }

  /**
   * Every registered account: user id and username, never a hash. A scan of the table (administration only: it
   * reads every item once).
   */
  async listAccounts(): Promise<{ userId: string; username: string }[]> {
    const accounts: { userId: string; username: string }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await storeCall(() =>
        this.db.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: 'begins_with(#pk, :user) AND attribute_exists(passwordHash)',
            ProjectionExpression: 'userId, username',
            ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
            ExpressionAttributeValues: { ':user': tableSchema.keyPrefix.user },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        if (typeof item.userId === 'string' && typeof item.username === 'string')
          accounts.push({ userId: item.userId, username: item.username });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return accounts.sort((a, b) => a.username.localeCompare(b.username));
  }
}
