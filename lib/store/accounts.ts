import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AccountState, accountKey, toAccountState } from './account-state.ts';
import { atGeneration, conditionParams } from './conditions.ts';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

export { type AccountState, accountKey, ROLE_PATTERN, toAccountState } from './account-state.ts';

/** The account store: per-user revocation generation, roles and the disabled flag. */
export class AccountStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** Reads a user's account state, strongly consistently (a revocation is seen at once). */
  async getAccount(userId: string): Promise<AccountState> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: accountKey(userId), ConsistentRead: true }),
      ),
    );
    return toAccountState(userId, Item);
  }

  /**
   * Revokes every session of the user at once: moves it to the next generation in one write (whatever the
   * current one is, so racing revocations all succeed). With `disabled` also sets or clears the disabled flag in
   * the same write. Returns the new state.
   */
  async revokeAllSessions(userId: string, options: { disabled?: boolean } = {}): Promise<AccountState> {
    const disabled = options.disabled;
    const { Attributes } = await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          // A password change's carried-over session is ended too: this revocation spares nobody.
          UpdateExpression: `ADD generation :one${disabled === true ? ' SET disabled = :true' : ''} REMOVE carriedSession${disabled === false ? ', disabled' : ''}`,
          ExpressionAttributeValues: { ':one': 1, ...(disabled === true && { ':true': true }) },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return toAccountState(userId, Attributes);
  }

  /** Clears the disabled flag (sessions stay revoked; new logins work). */
  async enable(userId: string): Promise<AccountState> {
    const { Attributes } = await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          UpdateExpression: 'REMOVE disabled',
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return toAccountState(userId, Attributes);
  }

  /**
   * Adds and removes roles, each atomically (a string set: racing administrators never undo each other's
   * change). Returns the new state.
   */
  async updateRoles(
    userId: string,
    change: { add?: readonly string[]; remove?: readonly string[] },
  ): Promise<AccountState> {
    let item: Record<string, unknown> | undefined;
    const send = (action: 'ADD' | 'DELETE', roles: readonly string[]) =>
      storeCall(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: accountKey(userId),
            UpdateExpression: `${action} #roles :roles`,
            ExpressionAttributeNames: { '#roles': 'roles' },
            ExpressionAttributeValues: { ':roles': new Set(roles) },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
    if (change.add?.length) item = (await send('ADD', change.add)).Attributes;
    if (change.remove?.length) item = (await send('DELETE', change.remove)).Attributes;
    return item ? toAccountState(userId, item) : this.getAccount(userId);
  }

  /**
   * Revokes every session of the user but `keepSid` (a password change): moves the user to the next generation
   * and names `keepSid` as the one session carried over, in one write conditional on the user still being at
   * `generation` (`false` when another revocation came first: the caller's session is then over too).
   */
  async revokeAllBut(userId: string, generation: number, keepSid: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          UpdateExpression: 'SET generation = :next, carriedSession = :sid',
          ...conditionParams(atGeneration(generation), {
            values: { ':next': generation + 1, ':sid': keepSid },
          }),
        }),
      ),
    );
  }

  /**
   * Marks the account deleted (the commit point of `DELETE /auth/account`): every session dead at once, roles
   * and flags gone, the name free for a new account. What stays is a tombstone of the id, swept by the TTL at
   * `forgetAt` (epoch seconds), once no session of the user could be live anyway.
   */
  async markDeleted(userId: string, forgetAt: number): Promise<void> {
    await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          UpdateExpression:
            'ADD generation :one SET deleted = :true, #ttl = :ttl REMOVE #roles, disabled, carriedSession',
          ExpressionAttributeNames: { '#ttl': tableSchema.ttlAttribute, '#roles': 'roles' },
          ExpressionAttributeValues: { ':one': 1, ':true': true, ':ttl': forgetAt },
        }),
      ),
    );
  }
}
