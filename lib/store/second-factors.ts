import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/**
 * A user's second factors, kept on the item under the username (`user#<name>`) beside the password hash: the
 * login's password check already reads that item (its admission returns it whole), so a login learns whether a
 * second factor is due without another request, and an account deletion removes them with the name's item.
 * - `totpSecret`: the TOTP secret, sealed (`lib/mfa/secret-box.ts`); present while TOTP is on.
 * - `totpPending`: a secret being enrolled, sealed, until its first code confirms it.
 * - `totpStep`: the last accepted time step (RFC 6238 §5.2): advanced only by a conditional write
 *   (`totpStep < :step`), so of racing submissions of one code exactly one is accepted. Kept when TOTP is
 *   turned off, so that no step is ever accepted twice for the account.
 * - `recoveryCodes`: a map from each unused recovery code's hash to 1; a code is used by removing its entry
 *   under the condition that it exists, so of racing uses exactly one succeeds.
 * - `passkeysEnrolled`: `true` once a passkey registration was begun for the account (set before any credential
 *   can be added, never cleared). The passkeys live on an item of their own (`PasskeyStore`): a login reads it
 *   only for an account with this mark, so that accounts that never had a passkey pay nothing, and an account
 *   that has one can never be missed (the mark comes first). A mark without passkeys costs one read.
 */
export interface SecondFactors {
  totpSecret: string | undefined;
  totpPending: string | undefined;
  totpStep: number;
  /** Hashes of the unused recovery codes. */
  recoveryCodeHashes: string[];
  /** Whether the account may have passkeys (see `passkeysEnrolled` above). */
  mayHavePasskeys: boolean;
}

/** The second-factor methods a login may complete with (API.md "Login with a second factor", `methods`). */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

/** The second factors stored on a user item (none for `undefined`). */
export function secondFactorsOf(item: Record<string, unknown> | undefined): SecondFactors {
  const codes = item?.recoveryCodes;
  return {
    totpSecret: typeof item?.totpSecret === 'string' ? item.totpSecret : undefined,
    totpPending: typeof item?.totpPending === 'string' ? item.totpPending : undefined,
    totpStep: typeof item?.totpStep === 'number' ? item.totpStep : 0,
    recoveryCodeHashes: typeof codes === 'object' && codes !== null ? Object.keys(codes) : [],
    mayHavePasskeys: item?.passkeysEnrolled === true,
  };
}

/**
 * The methods the user item itself shows as a second factor (TOTP and its recovery codes), in the order a client
 * should offer them; `[]` when it shows none. Recovery codes exist only alongside TOTP (they are issued when it
 * is confirmed). Passkeys are on an item of their own: `secondFactorMethodsOf` (lib/operations/mfa-token.ts)
 * adds `passkey` when the account has one.
 */
export function secondFactorMethods(item: Record<string, unknown> | undefined): SecondFactorMethod[] {
  const factors = secondFactorsOf(item);
  const methods: SecondFactorMethod[] = [];
  if (factors.totpSecret !== undefined) {
    methods.push('totp');
    if (factors.recoveryCodeHashes.length > 0) methods.push('recovery_code');
  }
  return methods;
}

/** A pending `mfaToken` (API.md): the login it continues, until it is used, expires or is killed. */
export interface MfaChallenge {
  userId: string;
  username: string;
  /** The user's revocation generation the password was checked in (a replacement since makes it unusable). */
  generation: number;
  /** Epoch seconds after which it is refused. */
  expiresAt: number;
  /** Wrong codes presented with it so far. */
  failures: number;
  used: boolean;
}

const userKey = (username: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.user}${username}`,
});
const challengeKey = (tokenHash: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.mfaChallenge}${tokenHash}`,
});

/** "A step after `:step`'s predecessors": the DynamoDB half of the rule `matchingTotpStep` applies in code. */
const STEP_ADVANCES = '(attribute_not_exists(totpStep) OR totpStep < :step)';

/** The second-factor store: TOTP and recovery codes on the user item, and pending `mfaToken`s. */
export class SecondFactorStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** The user item under `username`, read strongly consistently (`undefined` when none). */
  async readUserItem(username: string): Promise<Record<string, unknown> | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: userKey(username), ConsistentRead: true }),
      ),
    );
    return Item;
  }

  /**
   * Stores a pending TOTP secret (replacing a pending one) while the name is still `userId`'s account and TOTP is
   * not on. `false` when it is on (or the account is gone).
   */
  async setPendingTotp(username: string, userId: string, sealed: string): Promise<boolean> {
    return this.#update(username, userId, 'SET totpPending = :pending', 'attribute_not_exists(totpSecret)', {
      ':pending': sealed,
    });
  }

  /**
   * Turns TOTP on with the pending secret `pending` (as read), now sealed as `sealed`, accepting `step`, and
   * stores the first set of recovery-code hashes: one write, conditional on that pending secret still being the
   * one, TOTP still off, and the step advancing. `false` otherwise.
   */
  async enableTotp(input: {
    username: string;
    userId: string;
    pending: string;
    sealed: string;
    step: number;
    recoveryCodeHashes: readonly string[];
  }): Promise<boolean> {
    return this.#update(
      input.username,
      input.userId,
      'SET totpSecret = :sealed, totpStep = :step, recoveryCodes = :codes REMOVE totpPending',
      `totpPending = :pending AND attribute_not_exists(totpSecret) AND ${STEP_ADVANCES}`,
      {
        ':sealed': input.sealed,
        ':step': input.step,
        ':pending': input.pending,
        ':codes': codeMap(input.recoveryCodeHashes),
      },
    );
  }

  /**
   * Records `step` as the last accepted one, while TOTP is still on with the secret `seen` (as read) and `step`
   * is after the stored one: of any number of racing submissions of one code exactly one gets `true`. With
   * `reseal`, the same write stores the secret re-sealed under the ring's current key.
   */
  async acceptTotpStep(input: {
    username: string;
    userId: string;
    seen: string;
    step: number;
    reseal?: string | undefined;
  }): Promise<boolean> {
    return this.#update(
      input.username,
      input.userId,
      `SET totpStep = :step${input.reseal ? ', totpSecret = :reseal' : ''}`,
      `totpSecret = :seen AND ${STEP_ADVANCES}`,
      { ':step': input.step, ':seen': input.seen, ...(input.reseal && { ':reseal': input.reseal }) },
    );
  }

  /** Uses one recovery code by its hash: `true` for exactly one of any number of racing uses of it. */
  async consumeRecoveryCode(username: string, userId: string, codeHash: string): Promise<boolean> {
    return this.#update(
      username,
      userId,
      'REMOVE recoveryCodes.#code',
      'attribute_exists(totpSecret) AND attribute_exists(recoveryCodes.#code)',
      {},
      { '#code': codeHash },
    );
  }

  /**
   * Marks the account as one that may have passkeys (`passkeysEnrolled`), before a registration can add one: a
   * login then looks for them. Idempotent; `false` when the name is no longer `userId`'s account.
   */
  async markPasskeysEnrolled(username: string, userId: string): Promise<boolean> {
    return this.#update(username, userId, 'SET passkeysEnrolled = :true', undefined, { ':true': true });
  }

  /** Replaces the recovery codes with a new set (the old set dies at once) while TOTP is on. */
  async replaceRecoveryCodes(username: string, userId: string, hashes: readonly string[]): Promise<boolean> {
    return this.#update(username, userId, 'SET recoveryCodes = :codes', 'attribute_exists(totpSecret)', {
      ':codes': codeMap(hashes),
    });
  }

  /**
   * Removes TOTP (on or pending) and the recovery codes (`DELETE /auth/mfa/totp`, `mfa-reset`); the last accepted
   * step stays. Removing them twice is not an error. `false` when the name is no longer `userId`'s account.
   */
  async removeTotp(username: string, userId: string): Promise<boolean> {
    return this.#update(username, userId, 'REMOVE totpSecret, totpPending, recoveryCodes', undefined, {});
  }

  /** One update of the user item, conditional on it still holding `userId`'s account and on `condition`. */
  #update(
    username: string,
    userId: string,
    expression: string,
    condition: string | undefined,
    values: Record<string, unknown>,
    names?: Record<string, string>,
  ): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: expression,
          ConditionExpression: `userId = :uid${condition ? ` AND ${condition}` : ''}`,
          ExpressionAttributeValues: { ':uid': userId, ...values },
          ...(names && { ExpressionAttributeNames: names }),
        }),
      ),
    );
  }

  /** Stores a new `mfaToken`'s challenge under the token's hash; the TTL sweeps it some time after it expires. */
  async createChallenge(
    tokenHash: string,
    challenge: Omit<MfaChallenge, 'failures' | 'used'>,
  ): Promise<void> {
    await storeCall(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...challengeKey(tokenHash),
            userId: challenge.userId,
            username: challenge.username,
            generation: challenge.generation,
            expiresAt: challenge.expiresAt,
            failures: 0,
            [tableSchema.ttlAttribute]: challenge.expiresAt + 3600,
          },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
        }),
      ),
    );
  }

  /** A challenge by its token's hash (strongly consistent), or `undefined`. */
  async getChallenge(tokenHash: string): Promise<MfaChallenge | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: challengeKey(tokenHash), ConsistentRead: true }),
      ),
    );
    if (!Item || typeof Item.userId !== 'string' || typeof Item.username !== 'string') return undefined;
    return {
      userId: Item.userId,
      username: Item.username,
      generation: typeof Item.generation === 'number' ? Item.generation : 0,
      expiresAt: typeof Item.expiresAt === 'number' ? Item.expiresAt : 0,
      failures: typeof Item.failures === 'number' ? Item.failures : 0,
      used: Item.usedAt !== undefined,
    };
  }

  /**
   * Counts one wrong code against a challenge that is still usable (atomic add: racing wrong codes all count).
   * Returns whether it was usable.
   */
  async recordWrongCode(tokenHash: string, maxFailures: number, now: number): Promise<boolean> {
    return this.#challengeUpdate(tokenHash, 'ADD failures :one', maxFailures, now, { ':one': 1 });
  }

  /**
   * Uses a challenge up (the login it continues is complete): `true` for exactly one of racing completions, and
   * only while it is unused, unexpired at `now` and has fewer than `maxFailures` wrong codes.
   */
  async completeChallenge(tokenHash: string, maxFailures: number, now: number): Promise<boolean> {
    return this.#challengeUpdate(tokenHash, 'SET usedAt = :now', maxFailures, now, {});
  }

  #challengeUpdate(
    tokenHash: string,
    expression: string,
    maxFailures: number,
    now: number,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: challengeKey(tokenHash),
          UpdateExpression: expression,
          // The one rule of a usable challenge, mirrored by `challengeUsable` in the operation.
          ConditionExpression:
            'attribute_exists(userId) AND attribute_not_exists(usedAt) AND failures < :max AND expiresAt > :now',
          ExpressionAttributeValues: { ':max': maxFailures, ':now': now, ...values },
        }),
      ),
    );
  }
}

const codeMap = (hashes: readonly string[]) => Object.fromEntries(hashes.map((hash) => [hash, 1]));
