import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { defaults } from '../../lib/config.ts';

/** Direct, read-only access to the service's table, for assertions about what is (and is not) stored. */
export interface StoreReader {
  /** Every session item of a user, revoked ones included. */
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
      // Every session item of the user, revoked ones included (the live-session index holds only live ones).
      return (await this.allSessions()).filter((item) => item.userId === userId);
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
