import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';

/** One login: the hash of its current refresh token, and what decides whether it may still be used. */
export interface Session {
  sid: string;
  userId: string;
  username: string;
  /** SHA-256 of the current refresh token; the token itself is never stored. */
  refreshHash: string;
  /** The hash it replaced at the last rotation, to tell a racing retry from a replay. */
  previousRefreshHash?: string;
  /** Epoch seconds of the last rotation (or of the login). */
  rotatedAt: number;
  /**
   * The pair the last rotation issued, sealed (AES-256-GCM) under a key derived from the token it replaced
   * (`lib/tokens/successor.ts`): only a holder of that previous token can open it, to be answered again within
   * `REFRESH_REUSE_GRACE`. Absent until the first rotation.
   */
  sealedSuccessor?: Uint8Array;
  /** Epoch seconds of the login: the session ends `SESSION_MAX_AGE` after it. */
  authTime: number;
  revoked: boolean;
}

interface SessionItem extends Session {
  pk: string;
  ttl: number;
}

/**
 * Where a stored session stands for a token of user `sub`, by the one liveness rule every operation applies
 * (and {@link LIVE_SESSION_CONDITION} mirrors in DynamoDB): it must exist, belong to `sub`, not be revoked, and
 * have begun after `notBefore` (now minus `SESSION_MAX_AGE`). Expiry is judged here, never by whether
 * DynamoDB's TTL sweep has deleted the item yet.
 */
export type SessionState = 'live' | 'missing' | 'revoked' | 'too_old';

export function sessionState(stored: Session | undefined, sub: string, notBefore: number): SessionState {
  // A session of another user is treated as absent for this token: it can never have been issued to it.
  if (!stored || stored.userId !== sub) return 'missing';
  if (stored.revoked) return 'revoked';
  if (stored.authTime <= notBefore) return 'too_old';
  return 'live';
}

/**
 * {@link sessionState}'s "live" as a DynamoDB condition (the owner is checked by the key and the hash the
 * caller names): binds `:false` and `:notBefore`.
 */
const LIVE_SESSION_CONDITION = 'revoked = :false AND authTime > :notBefore';

const SESSION_PREFIX = tableSchema.keyPrefix.session;
const sessionKey = (sid: string) => ({ [tableSchema.partitionKey]: `${SESSION_PREFIX}${sid}` });

/** The session store: one DynamoDB item per login. */
export class SessionStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(db: DynamoDBDocumentClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Stores a new session. `expiresAt` (its absolute end) becomes the TTL attribute: DynamoDB may delete the
   * item some time after that, but expiry is always judged in code, never by whether the item is gone.
   */
  async createSession(
    session: Omit<Session, 'revoked' | 'previousRefreshHash' | 'sealedSuccessor'>,
    expiresAt: number,
  ): Promise<void> {
    const item: SessionItem = {
      ...sessionKey(session.sid),
      ...session,
      revoked: false,
      ttl: expiresAt,
    } as SessionItem;
    await storeCall(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
        }),
      ),
    );
  }

  /** Reads a session with a strongly consistent read, so a logout is seen at once. */
  async getSession(sid: string): Promise<Session | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: sessionKey(sid), ConsistentRead: true })),
    );
    return Item as Session | undefined;
  }

  /**
   * Makes `newHash` the session's current refresh token in one conditional write: it succeeds only while
   * `presentedHash` is still current, the session is not revoked and it began after `notBefore`. Of any
   * number of racing rotations with the same token exactly one succeeds. Returns whether this one did.
   *
   * The same write moves the presented hash to `previousRefreshHash` and stores `sealedSuccessor`, the new
   * pair sealed under the presented token, so a retry or a racing request with that token can be answered
   * with this very pair (RFC 9700 §4.14.2 rotation, made idempotent for the grace window) without a second
   * write on the happy path.
   */
  async rotateRefreshToken(input: {
    sid: string;
    presentedHash: string;
    newHash: string;
    sealedSuccessor: Uint8Array;
    now: number;
    notBefore: number;
  }): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(input.sid),
          // What the item keeps of a rotation, and why (all in this one write, so the fields always describe
          // the same rotation):
          // - refreshHash: SHA-256 of the new token, for the compare-and-set; a hash is useless as a token.
          // - previousRefreshHash: to tell the previous token (a retry, a racing tab: answered again) from any
          //   older one (a replay: the session is revoked). One slot: only the previous token is re-answered.
          // - rotatedAt: the start of the grace window, judged in code.
          // - sealedSuccessor: the issued pair, so a retry gets the very same strings; sealed under a key only
          //   the previous token yields (HKDF of it), never under a server key, since the service's own role
          //   could then turn a leaked table into live tokens. Not removed when the window closes (that would
          //   be a second write): it stays unopenable without the previous token, and the next rotation or a
          //   revocation replaces or removes it.
          UpdateExpression:
            'SET refreshHash = :new, previousRefreshHash = :presented, sealedSuccessor = :sealed, rotatedAt = :now',
          ConditionExpression: `refreshHash = :presented AND ${LIVE_SESSION_CONDITION}`,
          ExpressionAttributeValues: {
            ':new': input.newHash,
            ':presented': input.presentedHash,
            ':sealed': input.sealedSuccessor,
            ':now': input.now,
            ':false': false,
            ':notBefore': input.notBefore,
          },
        }),
      ),
    );
  }

  /**
   * Revokes a session: its refresh token stops working and the authorizer refuses its access tokens.
   * Revoking a session that is already revoked, or already swept away by the TTL, is not an error.
   */
  async revokeSession(sid: string, now: number): Promise<void> {
    await conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sid),
          // A revoked session answers no retry: its sealed pair goes with it.
          UpdateExpression:
            'SET revoked = :true, revokedAt = if_not_exists(revokedAt, :now) REMOVE sealedSuccessor',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
          ExpressionAttributeValues: { ':true': true, ':now': now },
        }),
      ),
    );
  }

  /**
   * Revokes a session only if it is still live (not revoked, begun after `notBefore`). Returns whether it was:
   * used by logout-all to prove the caller's own session is live before touching the others.
   */
  async revokeLiveSession(sid: string, now: number, notBefore: number): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sid),
          UpdateExpression: 'SET revoked = :true, revokedAt = :now REMOVE sealedSuccessor',
          ConditionExpression: LIVE_SESSION_CONDITION,
          ExpressionAttributeValues: { ':true': true, ':false': false, ':now': now, ':notBefore': notBefore },
        }),
      ),
    );
  }

  /** The ids of a user's sessions that are not revoked, from the user-id index (eventually consistent). */
  async listLiveSessionIds(userId: string): Promise<string[]> {
    const sids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await storeCall(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: tableSchema.userIndex.name,
            KeyConditionExpression: '#uid = :uid',
            FilterExpression: 'revoked = :false',
            ExpressionAttributeNames: { '#uid': tableSchema.userIndex.partitionKey },
            ExpressionAttributeValues: { ':uid': userId, ':false': false },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const pk = item[tableSchema.partitionKey];
        if (typeof pk === 'string' && pk.startsWith(SESSION_PREFIX))
          sids.push(pk.slice(SESSION_PREFIX.length));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return sids;
  }
}
