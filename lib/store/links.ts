import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** What a link is for: verifying an address, or resetting a password. */
export type LinkPurpose = 'verify' | 'reset';

/** A mailed link as stored: never its secret, only the secret's hash (the key). */
export interface Link {
  purpose: LinkPurpose;
  userId: string;
  username: string;
  /** The address the link was sent to. */
  email: string;
  /** Epoch seconds after which the link is refused. */
  expiresAt: number;
  /**
   * Reset links: a fingerprint of the password hash the account had when the link was made. Any change of the
   * hash (a reset, a password change) makes every outstanding reset link of the account unusable, with no
   * write to the links themselves.
   */
  passwordFingerprint?: string;
  /** Epoch seconds the link was redeemed, if it was. */
  usedAt?: number;
  /** The id of the redemption that used it (to tell a lost answer of our own from another's use). */
  usedBy?: string;
}

/** Random bytes in a link's secret: 256 bits (API.md asks for at least 128). */
export const LINK_SECRET_BYTES = 32;

/** A link secret is base64url of {@link LINK_SECRET_BYTES} bytes: anything else is refused unread. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Days a used or expired link item is kept before DynamoDB's TTL sweep may delete it. */
const KEEP_AFTER_EXPIRY = 86400;

/** The hash a secret is stored under: SHA-256, hex (the secret has 256 random bits: no salt or stretching needed). */
export const hashLinkSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

const linkKey = (secret: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.link}${hashLinkSecret(secret)}`,
});

/** The fingerprint of a password hash that reset links are bound to (see {@link Link.passwordFingerprint}). */
export const passwordFingerprint = (passwordHash: string): string =>
  createHash('sha256').update(passwordHash).digest('hex').slice(0, 32);

const linkOf = (item: Record<string, unknown> | undefined): Link | undefined => {
  if (
    (item?.purpose !== 'verify' && item?.purpose !== 'reset') ||
    typeof item.userId !== 'string' ||
    typeof item.username !== 'string' ||
    typeof item.email !== 'string' ||
    typeof item.expiresAt !== 'number'
  )
    return undefined;
  return {
    purpose: item.purpose,
    userId: item.userId,
    username: item.username,
    email: item.email,
    expiresAt: item.expiresAt,
    ...(typeof item.passwordFingerprint === 'string' && { passwordFingerprint: item.passwordFingerprint }),
    ...(typeof item.usedAt === 'number' && { usedAt: item.usedAt }),
    ...(typeof item.usedBy === 'string' && { usedBy: item.usedBy }),
  };
};

/**
 * The condition under which a link may still be redeemed, as DynamoDB checks it (binds `:now`): it exists, was
 * never used and has not expired. {@link linkUsable} is the same rule in TypeScript, judged before the write.
 */
export const REDEEMABLE_LINK_CONDITION =
  'attribute_exists(purpose) AND attribute_not_exists(usedAt) AND expiresAt > :now';

/** The rule of {@link REDEEMABLE_LINK_CONDITION} on a link already read. */
export const linkUsable = (link: Link | undefined, now: number): link is Link =>
  link !== undefined && link.usedAt === undefined && link.expiresAt > now;

/**
 * The link store: one item per link, keyed by the SHA-256 of its secret, with a TTL attribute. A secret leaves
 * this module only once, to be put in a mail; the store never holds it.
 */
export class LinkStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /** Stores a new link and returns its secret (base64url, {@link LINK_SECRET_BYTES} random bytes). */
  async create(link: Omit<Link, 'usedAt' | 'usedBy'>): Promise<string> {
    const secret = randomBytes(LINK_SECRET_BYTES).toString('base64url');
    await storeCall(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...linkKey(secret),
            ...link,
            [tableSchema.ttlAttribute]: link.expiresAt + KEEP_AFTER_EXPIRY,
          },
          // A collision of 256 random bits does not happen; the condition makes sure it could not overwrite.
          ConditionExpression: 'attribute_not_exists(purpose)',
        }),
      ),
    );
    return secret;
  }

  /** The link a secret opens, if any (strongly consistent); a malformed secret reads nothing. */
  async get(secret: string): Promise<Link | undefined> {
    if (!SECRET_PATTERN.test(secret)) return undefined;
    const { Item } = await storeCall(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: linkKey(secret), ConsistentRead: true })),
    );
    return linkOf(Item);
  }

  /**
   * Redeems a link: marks it used in one write conditional on {@link REDEEMABLE_LINK_CONDITION}, so of any number
   * of concurrent redemptions exactly one succeeds. `redemptionId` names this redemption: when the SDK sent the
   * write again after a lost answer, the retry finds the link used by this very redemption, which is success.
   */
  async redeem(secret: string, now: number, redemptionId: string): Promise<boolean> {
    if (!SECRET_PATTERN.test(secret)) return false;
    const written = await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: linkKey(secret),
          UpdateExpression: 'SET usedAt = :now, usedBy = :by',
          ConditionExpression: REDEEMABLE_LINK_CONDITION,
          ExpressionAttributeValues: { ':now': now, ':by': redemptionId },
        }),
      ),
    );
    return written || (await this.get(secret))?.usedBy === redemptionId;
  }

  /** Deletes a link (one whose mail could not be sent). */
  async delete(secret: string): Promise<void> {
    await storeCall(() =>
      this.db.send(new DeleteCommand({ TableName: this.tableName, Key: linkKey(secret) })),
    );
  }
}
