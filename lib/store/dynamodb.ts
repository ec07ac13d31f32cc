import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { serviceUnavailable } from '../errors.ts';
import { batchGetAll } from './batch-get.ts';

/** The document client over `client`; `undefined` attributes are dropped rather than refused. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * The default low-level client, with bounded retries and short timeouts: an auth call should fail fast (503)
 * rather than hang. Its endpoint comes from `AWS_ENDPOINT_URL_DYNAMODB` when set (the local server, tests).
 */
export function createDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 },
  });
}

/**
 * Runs one store call; a failed condition is reported as `false` (the caller decides what it means), any
 * other fault becomes a 503 so that no token is ever issued on a write that did not happen.
 */
export async function conditional(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (error) {
    if (
      error instanceof ConditionalCheckFailedException ||
      (error as Error)?.name === 'ConditionalCheckFailedException'
    ) {
      return false;
    }
    throw serviceUnavailable(error);
  }
}

/** Runs one store call whose failure can only be a fault: it becomes a 503. */
export async function storeCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw serviceUnavailable(error);
  }
}

/**
 * Reads items by key with strongly consistent reads, in as few `BatchGetItem` requests as the keys need, by the
 * one rule of {@link batchGetAll} (unprocessed keys asked for again, then a 503): the items found, in no
 * particular order.
 */
export function batchGetConsistent(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  return batchGetAll(keys, async (batch) => {
    const answer = await storeCall(() =>
      db.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: batch, ConsistentRead: true } } })),
    );
    return {
      items: answer.Responses?.[tableName] ?? [],
      unprocessed: answer.UnprocessedKeys?.[tableName]?.Keys,
    };
  });
}
