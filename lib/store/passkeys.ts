import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/**
 * One registered passkey: a WebAuthn public-key credential (W3C WebAuthn Level 2, 6.4.2 and 6.5.1) with what a
 * relying party must keep of it. Its `credentialId` (base64url, as the browser reports it) is also its
 * `passkeyId` in the API: it is not a secret, and it is what an assertion names.
 */
export interface StoredPasskey {
  credentialId: string;
  /** The credential's COSE public key, as verified at registration (never re-parsed from the client). */
  publicKey: Uint8Array;
  /** The authenticator's signature counter as last seen (0 for authenticators that keep none). */
  counter: number;
  /** Transport hints the browser reported (`internal`, `hybrid`, `usb`, ...), for the next ceremony. */
  transports: string[];
  /** The user's name for it (at most {@link MAX_PASSKEY_NAME} characters). */
  name: string;
  /** Epoch milliseconds of the registration and of the last sign-in with it (absent before the first). */
  createdAt: number;
  lastUsedAt?: number;
  /**
   * The backup-eligible flag (authenticator data `BE`, WebAuthn Level 3 6.1): a multi-device (synced) credential
   * whose private key may leave the authenticator. Fixed for the credential's life.
   */
  backupEligible: boolean;
}

/** A user's passkeys as stored: the username they sign in as, and the credentials. */
export interface UserPasskeys {
  userId: string;
  /** The username of the account (recorded at registration; usernames never change). */
  username: string | undefined;
  passkeys: StoredPasskey[];
}

/** Most passkeys one account may register: each is a few hundred bytes of a single item (at most 400 KB). */
export const MAX_PASSKEYS = 20;
/** Longest name a passkey may be given, in UTF-16 code units. */
export const MAX_PASSKEY_NAME = 64;

/** The attribute one credential lives in, on its user's item. */
const credentialAttribute = (credentialId: string) => `cred:${credentialId}`;
const CREDENTIAL_ATTRIBUTE = /^cred:(.+)$/;

export const passkeysKey = (userId: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.passkeys}${userId}`,
});

function toPasskey(credentialId: string, stored: unknown): StoredPasskey | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const item = stored as Record<string, unknown>;
  if (!(item.publicKey instanceof Uint8Array) || typeof item.counter !== 'number') return undefined;
  return {
    credentialId,
    publicKey: item.publicKey,
    counter: item.counter,
    transports: Array.isArray(item.transports)
      ? item.transports.filter((value): value is string => typeof value === 'string')
      : [],
    name: typeof item.name === 'string' ? item.name : '',
    createdAt: typeof item.createdAt === 'number' ? item.createdAt : 0,
    ...(typeof item.lastUsedAt === 'number' && { lastUsedAt: item.lastUsedAt }),
    backupEligible: item.backupEligible === true,
  };
}

/** The outcome of adding a passkey. */
export type AddPasskeyResult = 'added' | 'already_registered' | 'too_many';

/**
 * The passkey store: one item per user (`passkeys#<userId>`) holding each credential in an attribute of its own,
 * so that every change (add, rename, delete, a sign-in's counter) is one conditional write of one item: no
 * transaction, no second item to keep in step. A sign-in finds the item by the credential's user handle (the
 * user id, which the authenticator returns with a discoverable credential) and the credential by its id.
 */
export class PasskeyStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** The user's passkeys, oldest first (one strongly consistent read; none when the user has no item). */
  async get(userId: string): Promise<UserPasskeys> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: passkeysKey(userId), ConsistentRead: true }),
      ),
    );
    const passkeys: StoredPasskey[] = [];
    for (const [attribute, value] of Object.entries(Item ?? {})) {
      const credentialId = CREDENTIAL_ATTRIBUTE.exec(attribute)?.[1];
      const passkey = credentialId === undefined ? undefined : toPasskey(credentialId, value);
      if (passkey) passkeys.push(passkey);
    }
    passkeys.sort((a, b) => a.createdAt - b.createdAt || a.credentialId.localeCompare(b.credentialId));
    return {
      userId,
      username: typeof Item?.username === 'string' ? Item.username : undefined,
      passkeys,
    };
  }

  /**
   * Adds a credential, in one write conditional on its id not being registered to this user yet and on the user
   * having fewer than {@link MAX_PASSKEYS}. A retry of a write whose answer was lost finds its own credential (the
   * same public key): that is `added`.
   */
  async add(userId: string, username: string, passkey: StoredPasskey): Promise<AddPasskeyResult> {
    const added = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: passkeysKey(userId),
          UpdateExpression: 'SET #cred = :cred, userId = :uid, username = :username ADD #count :one',
          ConditionExpression:
            'attribute_not_exists(#cred) AND (attribute_not_exists(#count) OR #count < :max)',
          ExpressionAttributeNames: { '#cred': credentialAttribute(passkey.credentialId), '#count': 'count' },
          ExpressionAttributeValues: {
            ':cred': {
              publicKey: passkey.publicKey,
              counter: passkey.counter,
              transports: passkey.transports,
              name: passkey.name,
              createdAt: passkey.createdAt,
              backupEligible: passkey.backupEligible,
            },
            ':uid': userId,
            ':username': username,
            ':one': 1,
            ':max': MAX_PASSKEYS,
          },
        }),
      ),
    );
    if (added) return 'added';
    const existing = (await this.get(userId)).passkeys.find((p) => p.credentialId === passkey.credentialId);
    if (!existing) return 'too_many';
    return Buffer.from(existing.publicKey).equals(Buffer.from(passkey.publicKey)) &&
      existing.createdAt === passkey.createdAt
      ? 'added'
      : 'already_registered';
  }

  /** Renames one of the user's passkeys; `false` when the user has no such passkey. */
  async rename(userId: string, credentialId: string, name: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: passkeysKey(userId),
          UpdateExpression: 'SET #cred.#name = :name',
          ConditionExpression: 'attribute_exists(#cred)',
          ExpressionAttributeNames: { '#cred': credentialAttribute(credentialId), '#name': 'name' },
          ExpressionAttributeValues: { ':name': name },
        }),
      ),
    );
  }

  /**
   * Deletes one of the user's passkeys; `false` when the user has no such passkey (never registered, another
   * user's, or already deleted). From the next request on, no assertion of it is accepted: a sign-in's counter
   * write is conditional on the credential still being there.
   */
  async remove(userId: string, credentialId: string): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: passkeysKey(userId),
          UpdateExpression: 'REMOVE #cred ADD #count :minusOne',
          ConditionExpression: 'attribute_exists(#cred)',
          ExpressionAttributeNames: { '#cred': credentialAttribute(credentialId), '#count': 'count' },
          ExpressionAttributeValues: { ':minusOne': -1 },
        }),
      ),
    );
  }

  /**
   * Records a verified sign-in: the credential's new signature counter and its last use, in one write
   * conditional on the credential still existing and on the counter moving forward from what is stored
   * (WebAuthn Level 2, 6.1.1 and 7.2 step 21): the same rule `verifyAuthenticationResponse` applied to the value
   * read, held again at the write so that of racing assertions a lower counter arriving after a higher one is
   * refused. An authenticator without a counter reports 0 every time, which is accepted only while the stored
   * counter is 0 too. Returns `false` when refused.
   */
  async recordUse(userId: string, credentialId: string, newCounter: number, now: number): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: passkeysKey(userId),
          UpdateExpression: 'SET #cred.#counter = :counter, #cred.lastUsedAt = :now',
          ConditionExpression: `attribute_exists(#cred) AND ${counterMovesForward(newCounter)}`,
          ExpressionAttributeNames: { '#cred': credentialAttribute(credentialId), '#counter': 'counter' },
          ExpressionAttributeValues: { ':counter': newCounter, ':now': now },
        }),
      ),
    );
  }

  /** Deletes every passkey of the user (account deletion, an administrator's `mfa-reset`). */
  async removeAll(userId: string): Promise<void> {
    await storeCall(() =>
      this.db.send(new DeleteCommand({ TableName: this.tableName, Key: passkeysKey(userId) })),
    );
  }
}

/**
 * The signature-counter rule as a DynamoDB condition on `#cred.#counter` (binds `:counter`, the new value): a
 * counter must grow; 0 stays acceptable only for an authenticator that has never reported more.
 */
export const counterMovesForward = (newCounter: number) =>
  newCounter === 0 ? '#cred.#counter = :counter' : '#cred.#counter < :counter';
