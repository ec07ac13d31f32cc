import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { serviceUnavailable } from '../errors.ts';
import { type AccountState, accountKey, toAccountState } from './account-state.ts';
import { batchGetAll } from './batch-get.ts';
import type { DynamoDbHttpClient } from './dynamodb-http.ts';
import { tableSchema } from './schema.ts';
import { type Session, sessionFromItem, sessionKey } from './session-state.ts';

type MarshalledKey = Record<string, AttributeValue>;
const marshalledKey = (key: Record<string, string>): MarshalledKey =>
  Object.fromEntries(Object.entries(key).map(([name, value]) => [name, { S: value }]));

/**
 * The authorizer's read of a session with its account, over {@link DynamoDbHttpClient} rather than the SDK: the
 * same request (`SessionStore.getSessionWithAccount`'s consistent `BatchGetItem` of the two items), the same
 * unprocessed-key rule (`batchGetAll`), the same item shapes (`sessionFromItem`, `toAccountState`), and any
 * fault a 503.
 */
export class SessionReader {
  private readonly db: DynamoDbHttpClient;
  private readonly tableName: string;

  constructor(db: DynamoDbHttpClient, tableName: string) {
    this.db = db;
    this.tableName = tableName;
  }

  /**
   * Reads a session and its user's account state in one strongly consistent request. A key DynamoDB leaves
   * unprocessed is asked for again and, if it stays unanswered, is a 503: never read as "no item".
   */
  async getSessionWithAccount(
    sid: string,
    userId: string,
  ): Promise<{ session: Session | undefined; account: AccountState }> {
    const pk = tableSchema.partitionKey;
    const session = sessionKey(sid);
    const account = accountKey(userId);
    const table = this.tableName;
    const items = await batchGetAll([marshalledKey(session), marshalledKey(account)], async (keys) => {
      let output: {
        Responses?: Record<string, Record<string, AttributeValue>[]>;
        UnprocessedKeys?: Record<string, { Keys?: MarshalledKey[] }>;
      };
      try {
        output = await this.db.send('BatchGetItem', {
          RequestItems: { [table]: { Keys: keys, ConsistentRead: true } },
        });
      } catch (error) {
        throw serviceUnavailable(error);
      }
      return {
        items: (output.Responses?.[table] ?? []).map((item) => unmarshall(item)),
        unprocessed: output.UnprocessedKeys?.[table]?.Keys,
      };
    });
    const sessionItem = items.find((item) => item[pk] === session[pk]);
    return {
      session: sessionItem && sessionFromItem(sessionItem),
      account: toAccountState(
        userId,
        items.find((item) => item[pk] === account[pk]),
      ),
    };
  }
}
