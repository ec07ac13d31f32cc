import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { serviceUnavailable } from '../errors.ts';
import { batchGetAll } from './batch-get.ts';

/** The document client over `client`; `undefined` attributes are dropped rather than refused. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/** The client's bounds: attempts (the first and two retries), and per-attempt connect and answer timeouts (ms). */
export interface DynamoDbClientOptions {
  maxAttempts?: number;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** The store's URL (default: the SDK's, or `AWS_ENDPOINT_URL_DYNAMODB` when set: the local server, tests). */
  endpoint?: string;
}

/**
 * The default low-level client, with bounded retries and short timeouts: an auth call should fail fast (503)
 * rather than hang. An attempt that gets no answer within `requestTimeoutMs` is aborted (its socket destroyed)
 * and counts as a transient fault, so the SDK retries it; when the attempts are spent the store call is a 503.
 * What the SDK and its HTTP handler have to say goes through {@link sdkLogger}: structured, and quiet.
 */
export function createDynamoDbClient(options: DynamoDbClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient({
    maxAttempts: options.maxAttempts ?? 3,
    ...(options.endpoint && { endpoint: options.endpoint }),
    logger: sdkLogger,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 1000,
      requestTimeout: options.requestTimeoutMs ?? 2000,
      // Without it the handler only prints a warning and the request stays pending.
      throwOnRequestTimeout: true,
      logger: sdkLogger,
    },
  });
}

/**
 * One structured log line. The logger module is loaded on first use, not with this one: Powertools reads its
 * settings from the environment when its logger is built, which must not happen before a function's environment
 * is in place (the local server and the tests set it before they load the functions).
 */
function emit(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
  void import('../observability/log.ts').then(({ logEvent }) => logEvent(level, message, fields));
}

/** Seconds within which a repeated SDK warning (same text) is counted rather than logged again. */
const WARNING_QUIET_SECONDS = 60;
const lastWarned = new Map<string, { at: number; suppressed: number }>();

/**
 * The SDK's logger: debug and info are dropped; a warning or error becomes one structured line
 * (`logEvent`, asynchronously), and the same warning repeated within {@link WARNING_QUIET_SECONDS} is only counted (the next
 * line says how many were held back), so a burst of requests cannot flood the log.
 */
export const sdkLogger = {
  debug: (): void => {},
  info: (): void => {},
  warn: (...content: unknown[]): void => {
    const text = content.map(String).join(' ').slice(0, 500);
    const key = text.slice(0, 120);
    const now = Date.now() / 1000;
    const last = lastWarned.get(key);
    if (last && now - last.at < WARNING_QUIET_SECONDS) {
      last.suppressed += 1;
      return;
    }
    lastWarned.set(key, { at: now, suppressed: 0 });
    emit('warn', 'DynamoDB client warning', {
      detail: text,
      ...(last?.suppressed && { repeatedSinceLastLine: last.suppressed }),
    });
  },
  error: (...content: unknown[]): void => {
    emit('error', 'DynamoDB client error', { detail: content.map(String).join(' ').slice(0, 500) });
  },
};

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
