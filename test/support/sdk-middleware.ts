import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The DynamoDB operation a command performs (`GetItem`, `UpdateItem`, `Query`, ...). */
const operationOf = (commandName: unknown): string =>
  String(commandName ?? 'unknown')
    .replace(/Command$/, '')
    .replace(/^(Get|Put|Update|Delete)$/, '$1Item');

export interface RequestCounter {
  /** Operations sent since the last `reset`, in order (one entry per logical request, retries not counted). */
  readonly sent: readonly string[];
  /** How many requests of each operation since the last `reset`. */
  counts(): Record<string, number>;
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
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(operationOf(context.commandName));
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    sent,
    counts() {
      const counts: Record<string, number> = {};
      for (const op of sent) counts[op] = (counts[op] ?? 0) + 1;
      return counts;
    },
    reset() {
      sent.length = 0;
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}
