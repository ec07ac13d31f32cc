import { DynamoDBDocumentClient, GetCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';
import { tableSchema } from '../../lib/store/schema.ts';

/** Direct, read-only access to the service's table, for assertions about what is (and is not) stored. */
export interface StoreReader {
  /** Every session item of a user (found through the user index, then read whole). */
  sessionsOf(userId: string): Promise<Record<string, any>[]>;
  /** One item by its key (`session#<sid>`, `user#<name>`), read consistently. */
  item(pk: string): Promise<{ Item: Record<string, any> | undefined }>;
  /** Every session item in the table. */
  allSessions(): Promise<Record<string, any>[]>;
  close(): void;
}

export function storeReader(
  endpoint: string,
  tableName = process.env.TABLE_NAME ?? defaults.TABLE_NAME,
): StoreReader {
  const db = DynamoDBDocumentClient.from(localDynamoClient(endpoint));
  return {
    async sessionsOf(userId) {
      const items: Record<string, any>[] = [];
      let ExclusiveStartKey: Record<string, any> | undefined;
      do {
        const page = await db.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: tableSchema.userIndex.name,
            KeyConditionExpression: '#uid = :uid',
            ExpressionAttributeNames: { '#uid': tableSchema.userIndex.partitionKey },
            ExpressionAttributeValues: { ':uid': userId },
            ExclusiveStartKey,
          }),
        );
        items.push(...(page.Items ?? []));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      // The index projects only the key and `revoked`: read each whole item, consistently, by its key.
      const whole = await Promise.all(
        items
          .filter((item) => String(item.pk).startsWith('session#'))
          .map(async (item) => {
            const { Item } = await db.send(
              new GetCommand({ TableName: tableName, Key: { pk: item.pk }, ConsistentRead: true }),
            );
            return Item;
          }),
      );
      return whole.filter((item): item is Record<string, any> => item !== undefined);
    },
    async item(pk) {
      const { Item } = await db.send(
        new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true }),
      );
      return { Item };
    },
    async allSessions() {
      const items: Record<string, any>[] = [];
      let ExclusiveStartKey: Record<string, any> | undefined;
      do {
        const page = await db.send(
          new ScanCommand({
            TableName: tableName,
            ConsistentRead: true,
            FilterExpression: 'begins_with(pk, :session)',
            ExpressionAttributeValues: { ':session': 'session#' },
            ExclusiveStartKey,
          }),
        );
        items.push(...(page.Items ?? []));
        ExclusiveStartKey = page.LastEvaluatedKey;
      } while (ExclusiveStartKey);
      return items;
    },
    close: () => db.destroy(),
  };
}
