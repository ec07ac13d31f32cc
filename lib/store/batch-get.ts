/* Pure: the one rule for reading items by key in batches, whichever client sends the requests. */
import { serviceUnavailable } from '../errors.ts';

/** Most keys one `BatchGetItem` may name. */
export const BATCH_GET_LIMIT = 100;
/** How many times keys DynamoDB left unprocessed (throttling) are asked for again before it is a 503. */
export const UNPROCESSED_RETRIES = 3;

/** One `BatchGetItem` of one table as a client sends it: the items found, and the keys left unprocessed. */
export type SendBatch<Key> = (
  keys: Key[],
) => Promise<{ items: Record<string, unknown>[]; unprocessed?: Key[] }>;

/**
 * Reads items by key in as few `BatchGetItem` requests as the keys need (one for up to 100): the items found,
 * in no particular order. Keys DynamoDB leaves unprocessed are asked for again a few times; if some still are,
 * it is a 503, never a silently shorter answer (a key not answered is not a key with no item). `send` makes
 * one request; a fault it throws is passed on as it is.
 */
export async function batchGetAll<Key>(
  keys: readonly Key[],
  send: SendBatch<Key>,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_LIMIT) {
    let pending: Key[] | undefined = keys.slice(i, i + BATCH_GET_LIMIT);
    for (let attempt = 0; pending && pending.length > 0; attempt += 1) {
      if (attempt > UNPROCESSED_RETRIES)
        throw serviceUnavailable(new Error('BatchGetItem left keys unprocessed'));
      const answer = await send(pending);
      found.push(...answer.items);
      pending = answer.unprocessed;
    }
  }
  return found;
}
