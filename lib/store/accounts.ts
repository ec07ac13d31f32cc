import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AccountState, accountKey, toAccountState } from './account-state.ts';
import { accountNotDeleted, all, atGeneration, conditionParams, passwordHashIs } from './conditions.ts';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

export { type AccountState, accountKey, ROLE_PATTERN, toAccountState } from './account-state.ts';

/**
 * The account store: per-user revocation generation, roles, the disabled flag and, once the password has been
 * replaced, the password hash (see {@link AccountStore.replacePassword}).
 */
export class AccountStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** Reads a user's account state, strongly consistently (a revocation is seen at once). */
  async getAccount(userId: string): Promise<AccountState> {
    return (await this.getCredentials(userId)).state;
  }

  /**
   * Reads a user's account state together with the password hash the item holds (absent until the password was
   * first replaced: the name's item then holds the only hash), in one strongly consistent read: the hash and the
   * generation are of the same instant.
   */
  async getCredentials(userId: string): Promise<{ state: AccountState; passwordHash?: string }> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: accountKey(userId), ConsistentRead: true }),
      ),
    );
    const state = toAccountState(userId, Item);
    return typeof Item?.passwordHash === 'string' ? { state, passwordHash: Item.passwordHash } : { state };
  }

  /**
   * Replaces the user's password hash and, in the same write, moves the user to the next generation: every
   * session that existed is dead at the instant the new hash is in place. Since a password check judges the
   * hash read together with the generation its session joins (see `checkPassword`), a check of the old password
   * can only start a session of a generation this write ends, however the requests interleave.
   *
   * With `keep` (a password change), the caller's session `keep.sessionId` is carried over, and the write is
   * conditional on the user still being at `keep.generation` (the one the caller's session was judged live at):
   * `false` when another whole-user revocation came first (the caller's session is then over, and nothing is
   * written). Without it (a reset) every session ends, whatever the generation. Either way `false` for a deleted
   * account.
   */
  async replacePassword(
    userId: string,
    passwordHash: string,
    keep?: { sessionId: string; generation: number },
  ): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          ...(keep
            ? {
                UpdateExpression: 'SET passwordHash = :hash, generation = :next, carriedSession = :sid',
                ...conditionParams(all(atGeneration(keep.generation), accountNotDeleted), {
                  values: { ':hash': passwordHash, ':next': keep.generation + 1, ':sid': keep.sessionId },
                }),
              }
            : {
                UpdateExpression: 'SET passwordHash = :hash ADD generation :one REMOVE carriedSession',
                ...conditionParams(accountNotDeleted, { values: { ':hash': passwordHash, ':one': 1 } }),
              }),
        }),
      ),
    );
  }

  /**
   * Stores `newHash` (the same password under current parameters) only while `checkedHash` is still the
   * account's hash: a password replaced meanwhile is never overwritten. Returns whether it was stored.
   */
  async rehashPassword(userId: string, checkedHash: string, newHash: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: accountKey(userId),
          UpdateExpression: 'SET passwordHash = :new',
          ...conditionParams(passwordHashIs(checkedHash), { values: { ':new': newHash } }),
        }),
      ),
    );
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
            'ADD generation :one SET deleted = :true, #ttl = :ttl REMOVE #roles, disabled, carriedSession, passwordHash',
          ExpressionAttributeNames: { '#ttl': tableSchema.ttlAttribute, '#roles': 'roles' },
          ExpressionAttributeValues: { ':one': 1, ':true': true, ':ttl': forgetAt },
        }),
      ),
    );
  }
}
