import { createHash, randomBytes } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { conditionParams, itemAbsent } from './conditions.ts';
import { conditional } from './dynamodb.ts';
import { type FailureCount, readCount } from './lockout-policy.ts';
import type { OwnCountPlace } from './own-counts.ts';
import { tableSchema } from './schema.ts';

/**
 * Device tokens (API.md "Known devices", OWASP "device cookies"): what a successful login hands the client so
 * that its later logins are judged by the device's own failure count, never by the name's. A token is
 * `<userId>.<32 random bytes, base64url>`: the user id lets a login read the device, the name and the user's
 * account in one request; the random part makes it unguessable. The store keeps only its SHA-256
 * (`device#<hash>`), never the token.
 */
const TOKEN_PATTERN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

/** A new device token for `userId`. */
export const newDeviceToken = (userId: string): string =>
  `${userId}.${randomBytes(32).toString('base64url')}`;

/** The user a well-formed device token names, or `undefined` for anything else (which is ignored). */
export function deviceTokenUser(token: string): string | undefined {
  return TOKEN_PATTERN.exec(token)?.[1];
}

/** The key of a device token's item: its SHA-256, never the token. */
export const deviceKey = (token: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.device}${createHash('sha256').update(token).digest('base64url')}`,
});

/** Where a device's own failure count is kept (see `OwnCountStore`). */
export const devicePlace = (token: string): OwnCountPlace => ({ key: deviceKey(token), attribute: 'count' });

/** A known device as stored. */
export interface Device {
  userId: string;
  /**
   * The user's revocation generation when the device was first known: the device is known only while the user
   * is still at it, so a whole-user revocation (logout-all, a password change, `disable`, `mfa-reset`, a
   * deletion) forgets every device at once, as it ends every session.
   */
  generation: number;
  /** Its own failure count (absent when clear). */
  count: FailureCount | undefined;
}

/** A stored device item as a {@link Device}, or `undefined` when it is not one. */
export function deviceFromItem(item: Record<string, unknown> | undefined): Device | undefined {
  if (typeof item?.userId !== 'string' || typeof item.generation !== 'number') return undefined;
  return { userId: item.userId, generation: item.generation, count: readCount(item.count) };
}

/** The device store: one item per device token, swept by the TTL once it has gone unused for its lifetime. */
export class DeviceStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Stores a new device token of `userId` at `generation`, known until `expiresAt` (epoch seconds). The key is
   * the hash of 32 fresh random bytes: a failed condition can only be this write's own retry, already applied.
   */
  async create(
    token: string,
    device: { userId: string; generation: number; expiresAt: number },
  ): Promise<void> {
    await conditional(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...deviceKey(token),
            userId: device.userId,
            generation: device.generation,
            [tableSchema.ttlAttribute]: device.expiresAt,
          },
          ...conditionParams(itemAbsent),
        }),
      ),
    );
  }
}
