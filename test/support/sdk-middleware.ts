import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { operationOf } from '../../bench/request-counter.ts';

// The request counter lives with the bench, which counts with it too (bench never imports test helpers).
export { countRequests, operationOf, type RequestCounter } from '../../bench/request-counter.ts';

/** The faults DynamoDB (or the network to it) can show an SDK client. */
export type DynamoFault = 'throttling' | 'timeout' | 'server-error';

/** The error the SDK surfaces for `fault` once its own retries are spent, as the real client throws it. */
export function faultError(fault: DynamoFault): Error {
  const $metadata = { httpStatusCode: fault === 'server-error' ? 500 : 400, attempts: 3 };
  switch (fault) {
    case 'throttling':
      return new ProvisionedThroughputExceededException({
        message: 'The level of configured provisioned throughput for the table was exceeded (injected).',
        $metadata,
      });
    case 'server-error':
      return new InternalServerError({ message: 'Internal server error (injected).', $metadata });
    case 'timeout':
      // What @smithy/node-http-handler throws when `requestTimeout` passes.
      return Object.assign(new Error('the request socket timed out (injected)'), { name: 'TimeoutError' });
  }
}

export interface FaultPlan {
  fault: DynamoFault;
  /** Only requests of this operation fail (all operations when absent). */
  operation?: string;
  /**
   * `before` (default): the request never reaches the table. `after`: the table applies it and the response is
   * lost on the way back (a timeout after the write), the case where the caller cannot know what happened.
   */
  when?: 'before' | 'after';
  /** How many matching requests fail before the fault heals itself (unlimited when absent). */
  times?: number;
}

export interface FaultInjector {
  /** Arms a fault; replaces any armed before. */
  inject(plan: FaultPlan): void;
  heal(): void;
  /** How many requests the armed faults have failed so far. */
  readonly failed: number;
  remove(): void;
}

/**
 * Injects DynamoDB faults at the SDK client with a middleware at the `initialize` step, i.e. before the SDK's
 * retry middleware: the error is what a caller sees once the retries (maxAttempts 3) are spent, without the
 * test waiting for their backoff.
 */
export function injectFaults(client: DynamoDBDocumentClient, name = 'test-fault-injector'): FaultInjector {
  let plan: FaultPlan | undefined;
  let remaining = Number.POSITIVE_INFINITY;
  let failed = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const armed = plan;
      if (
        !armed ||
        remaining <= 0 ||
        (armed.operation && armed.operation !== operationOf(context.commandName))
      ) {
        return next(args);
      }
      remaining -= 1;
      failed += 1;
      if (armed.when === 'after') await next(args);
      throw faultError(armed.fault);
    },
    { step: 'initialize', name },
  );
  return {
    inject(next) {
      plan = next;
      remaining = next.times ?? Number.POSITIVE_INFINITY;
    },
    heal() {
      plan = undefined;
    },
    get failed() {
      return failed;
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}

export interface AttemptFaults {
  /** Fails the next `attempts` attempts (each retry is an attempt) of `operation` with a 500. */
  failAttempts(operation: string, attempts: number): void;
  /**
   * Lets the next `attempts` attempts of `operation` reach the table, then loses their answers with a 500: the
   * write is applied, and the SDK retries it.
   */
  loseAttemptAnswers(operation: string, attempts: number): void;
  /** Attempts of the armed operation seen since it was armed, failed or not. */
  readonly attempts: number;
  remove(): void;
}

/**
 * Injects 500s per attempt, below the SDK's retry middleware (`finalizeRequest` step, after `retryMiddleware`):
 * this is what the retries themselves see, for tests of how they absorb or give up on a transient fault.
 */
export function injectAttemptFaults(
  client: DynamoDBDocumentClient,
  name = 'test-attempt-faults',
): AttemptFaults {
  let operation: string | undefined;
  let toFail = 0;
  let afterApplying = false;
  let attempts = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (operation !== operationOf(context.commandName)) return next(args);
      attempts += 1;
      if (toFail <= 0) return next(args);
      toFail -= 1;
      if (afterApplying) await next(args);
      throw faultError('server-error');
    },
    { step: 'finalizeRequest', name },
  );
  return {
    failAttempts(op, count) {
      operation = op;
      toFail = count;
      afterApplying = false;
      attempts = 0;
    },
    loseAttemptAnswers(op, count) {
      operation = op;
      toFail = count;
      afterApplying = true;
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
    remove() {
      client.middlewareStack.remove(name);
    },
  };
}
