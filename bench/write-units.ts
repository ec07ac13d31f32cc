import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tableSchema } from '../lib/store/schema.ts';
import { itemSize, storedItem, writeUnits } from './item-size.ts';
import { operationOf } from './request-counter.ts';

export interface WriteUnits {
  /** Write units billed to the table. */
  table: number;
  /** Write units billed to the live-session index (a GSI bills its own writes). */
  index: number;
}

export interface WriteUnitCounter {
  /** Units billed since the last `reset`. */
  units(): WriteUnits;
  reset(): void;
  remove(): void;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

/**
 * Counts the write units the client's writes bill, by reading the item before and after each write through
 * `raw` (a client of its own, not counted): the table bills the larger of the two sizes, in 1 KB units (at
 * least 1, a failed condition included); the keys-only live-session index bills one unit for an entry added and
 * one for an entry removed (a changed key is both), nothing when its key is untouched (DynamoDB Developer Guide,
 * "Provisioned throughput considerations for global secondary indexes").
 */
export function countWriteUnits(
  client: DynamoDBDocumentClient,
  raw: DynamoDBClient,
  tableName: string,
  name = 'bench-write-units',
): WriteUnitCounter {
  let units: WriteUnits = { table: 0, index: 0 };
  const indexKey = tableSchema.liveSessionIndex.partitionKey;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!WRITES.has(operationOf(context.commandName))) return next(args);
      // The key passes this step marshalled or not, depending on the document client's order: both shapes.
      const input = args.input as { Key?: Record<string, unknown>; Item?: Record<string, unknown> };
      const key = (input.Key ?? input.Item)?.[tableSchema.partitionKey];
      const pk = String(typeof key === 'object' && key !== null ? (key as { S?: unknown }).S : key);
      const before = await storedItem(raw, tableName, pk);
      let failed = false;
      try {
        return await next(args);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        const after = failed ? before : await storedItem(raw, tableName, pk);
        units.table += writeUnits(Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0));
        const was = before?.[indexKey]?.S;
        const is = after?.[indexKey]?.S;
        if (was !== is) units.index += (was ? 1 : 0) + (is ? 1 : 0);
      }
    },
    { step: 'initialize', name, priority: 'low' },
  );
  return {
    units: () => ({ ...units }),
    reset() {
      units = { table: 0, index: 0 };
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}
