import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The DynamoDB operation a command performs (`GetItem`, `UpdateItem`, `Query`, ...). */
export const operationOf = (commandName: unknown): string =>
  String(commandName ?? 'unknown')
    .replace(/Command$/, '')
    .replace(/^(Get|Put|Update|Delete)$/, '$1Item');

export interface RequestCounter {
  /** Operations sent since the last `reset`, in order (one entry per logical request, retries not counted). */
  readonly sent: readonly string[];
  /** How many requests of each operation since the last `reset`. */
  counts(): Record<string, number>;
  /**
   * How many requests of each operation succeeded since the last `reset`: a conditional write whose condition
   * failed (or any request that failed) is not counted, so `applied().UpdateItem` counts writes made.
   */
  applied(): Record<string, number>;
  reset(): void;
  remove(): void;
}

/**
 * Counts the requests a client sends, by operation, with a middleware at the `initialize` step: once per
 * `send`, whichever store method made it. Both stores share the client, so one counter sees every request.
 */
export function countRequests(
  client: DynamoDBDocumentClient,
  name = 'bench-request-counter',
): RequestCounter {
  const sent: string[] = [];
  const succeeded: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = operationOf(context.commandName);
      sent.push(operation);
      const result = await next(args);
      succeeded.push(operation);
      return result;
    },
    { step: 'initialize', name },
  );
  const tally = (ops: readonly string[]) => {
    const counts: Record<string, number> = {};
    for (const op of ops) counts[op] = (counts[op] ?? 0) + 1;
    return counts;
  };
  return {
    sent,
    counts: () => tally(sent),
    applied: () => tally(succeeded),
    reset() {
      sent.length = 0;
      succeeded.length = 0;
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}
