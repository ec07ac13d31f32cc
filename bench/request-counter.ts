import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoDbHttpClient } from '../lib/store/dynamodb-http.ts';

/**
 * A client the bench and tests observe: the SDK's document client (every function but the authorizer) or the
 * authorizer's `DynamoDbHttpClient`, whose observer stack takes the same middleware at the same two steps.
 */
export type ObservedClient = DynamoDBDocumentClient | DynamoDbHttpClient;
/** One client, or several observed as one (the functions' and the authorizer's). */
export type ObservedClients = ObservedClient | readonly ObservedClient[];

/** What a middleware of either client sees of a request and its answer (the SDK's shape). */
export type ObservedHandler = (args: { input: unknown }) => Promise<{ output: unknown }>;
export type ObservedMiddleware = (
  next: ObservedHandler,
  context: { commandName?: string },
) => ObservedHandler;

/** Adds and removes a middleware on every client of `clients` at once. */
export function observe(clients: ObservedClients) {
  const list = (Array.isArray(clients) ? clients : [clients]) as readonly ObservedClient[];
  return {
    add(
      middleware: ObservedMiddleware,
      options: { step: 'initialize' | 'finalizeRequest'; name: string; priority?: 'high' | 'low' },
    ) {
      for (const client of list)
        (client.middlewareStack as unknown as { add(m: ObservedMiddleware, o: typeof options): void }).add(
          middleware,
          options,
        );
    },
    remove(name: string) {
      for (const client of list) client.middlewareStack.remove(name);
    },
  };
}

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
 * `send`, whichever store method made it. Both stores share the client, so one counter sees every request; pass the authorizer's client too to count its
 * reads.
 */
export function countRequests(client: ObservedClients, name = 'bench-request-counter'): RequestCounter {
  const sent: string[] = [];
  const succeeded: string[] = [];
  observe(client).add(
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
      observe(client).remove(name);
    },
  };
}
