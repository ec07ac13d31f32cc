import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { serviceUnavailable } from '../errors.ts';

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

/** Most keys one `BatchGetItem` may name. */
const BATCH_GET_LIMIT = 100;
/** How many times keys DynamoDB left unprocessed (throttling) are asked for again before it is a 503. */
const UNPROCESSED_RETRIES = 3;

/**
 * Reads items by key with strongly consistent reads, in as few `BatchGetItem` requests as the keys need (one for
 * up to 100): the items found, in no particular order. Keys DynamoDB leaves unprocessed are asked for again a
 * few times; if some still are, it is a 503, never a silently shorter answer.
 */
export async function batchGetConsistent(
  db: DynamoDBDocumentClient,
  tableName: string,
  keys: Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + BATCH_GET_LIMIT);
    for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
      if (attempt > UNPROCESSED_RETRIES)
        throw serviceUnavailable(new Error('BatchGetItem left keys unprocessed'));
      const keysNow: Record<string, unknown>[] = pending;
      const answer = await storeCall(() =>
        db.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keysNow, ConsistentRead: true } } }),
        ),
      );
      found.push(...(answer.Responses?.[tableName] ?? []));
      pending = answer.UnprocessedKeys?.[tableName]?.Keys;
    }
  }
  return found;
}
