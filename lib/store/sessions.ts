import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type AccountState, accountKey, toAccountState } from './account-state.ts';
import {
  all,
  type Condition,
  conditionParams,
  generationMoving,
  itemAbsent,
  itemExists,
  notRevoked,
  ownedBy,
  refreshHashIs,
} from './conditions.ts';
import { batchGetConsistent, conditional, storeCall } from './dynamodb.ts';
import { tableSchema } from './schema.ts';
import { SESSION_PREFIX, type Session, sessionFromItem, sessionKey } from './session-state.ts';

export { type Session, type SessionState, sessionFromItem, sessionState } from './session-state.ts';

/** What a login stores. */
export type NewSession = Omit<Session, 'revoked' | 'previousRefreshHash' | 'lastRefreshedAt'> & {
  generation: number;
  createdAt: number;
  userAgent: string;
  ipAddress: string;
};

/**
 * A session as stored. The session id is only in the key and the last refresh only in `rotatedAt`: every byte
 * counts toward the 1 KB write unit a rotation bills (see `sessionFromItem` for reading both shapes).
 */
interface SessionItem extends Omit<Session, 'sid' | 'lastRefreshedAt'> {
  pk: string;
  ttl: number;
  /** The sparse index's key while the session may be live (see `tableSchema.liveSessionIndex`). */
  liveUserKey?: string;
}

/** The live-session index's key of a user's sessions at `generation`. */
const liveUserKey = (userId: string, generation: number) => `${userId}#${generation}`;

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
  async createSession(session: NewSession, expiresAt: number): Promise<void> {
    const { sid, ...stored } = session;
    const item: SessionItem = {
      ...sessionKey(sid),
      ...stored,
      revoked: false,
      ttl: expiresAt,
      liveUserKey: liveUserKey(session.userId, session.generation),
    } as SessionItem;
    await storeCall(() =>
      this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ...conditionParams(itemAbsent),
        }),
      ),
    );
  }

  /** Reads a session with a strongly consistent read, so a logout is seen at once. */
  async getSession(sid: string): Promise<Session | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(new GetCommand({ TableName: this.tableName, Key: sessionKey(sid), ConsistentRead: true })),
    );
    return Item && sessionFromItem(Item);
  }

  /**
   * Reads a session and its user's account state in one request (a strongly consistent `BatchGetItem` of the
   * two items), so that the authorizer still makes one DynamoDB request per call while honouring whole-user
   * revocation.
   *
   * "Not answered" and "no item" are different outcomes: an item absent from the answer was read and is not
   * there (no session; an account with the defaults), while a key DynamoDB left unprocessed is asked for again
   * and, if it stays unanswered, is a 503 thrown by `batchGetConsistent` (the authorizer then refuses): a
   * session is never judged against an account that was not read.
   */
  async getSessionWithAccount(
    sid: string,
    userId: string,
  ): Promise<{ session: Session | undefined; account: AccountState }> {
    const session = sessionKey(sid);
    const account = accountKey(userId);
    const items = await batchGetConsistent(this.db, this.tableName, [session, account]);
    const pk = tableSchema.partitionKey;
    const sessionItem = items.find((item) => item[pk] === session[pk]);
    return {
      session: sessionItem && sessionFromItem(sessionItem),
      account: toAccountState(
        userId,
        items.find((item) => item[pk] === account[pk]),
      ),
    };
  }

  /** Reads sessions by id, strongly consistently, in as few requests as 100 ids a request allow. */
  async getSessions(sids: readonly string[]): Promise<Session[]> {
    const items = await batchGetConsistent(
      this.db,
      this.tableName,
      sids.map((sid) => sessionKey(sid)),
    );
    return items.map(sessionFromItem);
  }

  /**
   * Makes `newHash` the session's current refresh token in one conditional write: it succeeds only while
   * `presentedHash` is still current and the session is not revoked (the caller judged the rest of its liveness
   * on the read this write follows). Of any
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
          // The time of the last refresh, for the user's list of sessions, is rotatedAt: no second attribute
          // (and an item of the older shape loses its copies of the id and of that time, which its key and
          // rotatedAt say).
          UpdateExpression:
            'SET refreshHash = :new, previousRefreshHash = :presented, sealedSuccessor = :sealed, rotatedAt = :now REMOVE sid, lastRefreshedAt',
          // Of the liveness rule only `revoked` can change on this item between the read and this write (see
          // `notRevoked`); the compare-and-set on the presented hash makes racing rotations exclusive.
          ...conditionParams(all(refreshHashIs(input.presentedHash), notRevoked), {
            values: {
              ':new': input.newHash,
              ':presented': input.presentedHash,
              ':sealed': input.sealedSuccessor,
              ':now': input.now,
            },
          }),
        }),
      ),
    );
  }

  /**
   * Revokes a session: its refresh token stops working and the authorizer refuses its access tokens.
   * Revoking a session that is already revoked, or already swept away by the TTL, is not an error.
   */
  async revokeSession(sid: string, now: number): Promise<void> {
    await this.#revoke(sid, now, itemExists);
  }

  /**
   * Revokes a session of `userId` (`DELETE /auth/sessions/{id}`): one conditional write scoped to the owner, so
   * that nobody can revoke another user's session. Returns `false` when no session of that user has this id
   * (another user's, an unknown one, or one already swept by the TTL). Revoking an already revoked one is `true`.
   */
  async revokeOwnSession(sid: string, userId: string, now: number): Promise<boolean> {
    return this.#revoke(sid, now, ownedBy(userId));
  }

  /** The one revocation write, under `condition`; `false` when the condition failed. */
  #revoke(sid: string, now: number, condition: Condition): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sid),
          // A revoked session answers no retry: its sealed pair goes with it. Out of the live-session index too:
          // listings no longer pay for it.
          UpdateExpression:
            'SET revoked = :true, revokedAt = if_not_exists(revokedAt, :now) REMOVE sealedSuccessor, liveUserKey',
          ...conditionParams(condition, { values: { ':true': true, ':now': now } }),
        }),
      ),
    );
  }

  /**
   * The ids of a user's sessions at `generation` that are not revoked, from the sparse live-session index
   * (eventually consistent: a session created a moment ago may be missing, one revoked a moment ago may still
   * be listed; callers judge each by a consistent read). Costs what the live sessions cost: revoked sessions
   * and those of earlier generations are not in the query's partition.
   */
  async listLiveSessionIds(userId: string, generation: number): Promise<string[]> {
    const sids: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await storeCall(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: tableSchema.liveSessionIndex.name,
            KeyConditionExpression: '#key = :key',
            ExpressionAttributeNames: { '#key': tableSchema.liveSessionIndex.partitionKey },
            ExpressionAttributeValues: { ':key': liveUserKey(userId, generation) },
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

  /**
   * Carries a session over from generation `from` to `to` (a password change keeps the caller's session while
   * ending the others): moves it to the new generation's index partition. Conditional on it being unrevoked and
   * at `from`, or already at `to` (a repeated carry-over, by a retried or double-submitted change, succeeds);
   * returns whether it was.
   */
  async carryOver(sid: string, userId: string, from: number, to: number): Promise<boolean> {
    return conditional(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(sid),
          UpdateExpression: 'SET generation = :to, liveUserKey = :key',
          ...conditionParams(all(notRevoked, ownedBy(userId), generationMoving(from, to)), {
            values: { ':to': to, ':key': liveUserKey(userId, to) },
          }),
        }),
      ),
    );
  }

  /** Deletes a session item (account deletion: the user's items go); deleting a missing one is not an error. */
  async deleteSession(sid: string): Promise<void> {
    await storeCall(() =>
      this.db.send(new DeleteCommand({ TableName: this.tableName, Key: sessionKey(sid) })),
    );
  }
}
