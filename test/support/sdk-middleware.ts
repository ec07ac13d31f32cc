import { AsyncLocalStorage } from 'node:async_hooks';
import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { type ObservedClients, observe, operationOf } from '../../bench/request-counter.ts';
import { authorizerServices } from '../../lib/authorizer-services.ts';
import { defaultServices } from '../../lib/services.ts';

// The request counter lives with the bench, which counts with it too (bench never imports test helpers).
export { countRequests, operationOf, type RequestCounter } from '../../bench/request-counter.ts';

/**
 * Every DynamoDB client the functions send through in this process: the SDK client of `lib/services.ts` and the
 * authorizer's own (`lib/authorizer-services.ts`). Fault injectors and counters given these see every request.
 */
export const functionClients = (): ObservedClients => [defaultServices().db, authorizerServices().db];

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
  /** How many matching requests pass untouched before the fault begins (0 when absent). */
  skip?: number;
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
export function injectFaults(client: ObservedClients, name = 'test-fault-injector'): FaultInjector {
  let plan: FaultPlan | undefined;
  let remaining = Number.POSITIVE_INFINITY;
  let toSkip = 0;
  let failed = 0;
  observe(client).add(
    (next, context) => async (args) => {
      const armed = plan;
      if (
        !armed ||
        remaining <= 0 ||
        (armed.operation && armed.operation !== operationOf(context.commandName))
      ) {
        return next(args);
      }
      if (toSkip > 0) {
        toSkip -= 1;
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
      toSkip = next.skip ?? 0;
    },
    heal() {
      plan = undefined;
    },
    get failed() {
      return failed;
    },
    remove() {
      observe(client).remove(name);
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
export function injectAttemptFaults(client: ObservedClients, name = 'test-attempt-faults'): AttemptFaults {
  let operation: string | undefined;
  let toFail = 0;
  let afterApplying = false;
  let attempts = 0;
  observe(client).add(
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
      observe(client).remove(name);
    },
  };
}

export interface StaleIndexReads {
  /** Index queries from now on leave out the items for which `hide(pk)` is true, as a lagging index would. */
  hide(predicate: (pk: string) => boolean): void;
  /** Index queries from now on also return these keys, as an index that has not yet seen their removal. */
  alsoReturn(pks: readonly string[]): void;
  /** How many index queries were altered. */
  readonly altered: number;
  remove(): void;
}

/**
 * Makes the client's index queries stale, as a global secondary index is eventually consistent on DynamoDB: the
 * answer of every `Query` with an `IndexName` is altered on its way back (an item left out, or one that is no
 * longer in the index still returned). Reads of the table itself are untouched.
 */
export function staleIndexReads(client: ObservedClients, name = 'test-stale-index'): StaleIndexReads {
  let hidden: (pk: string) => boolean = () => false;
  let extra: readonly string[] = [];
  let altered = 0;
  // Items pass this step marshalled or not, depending on the document client's order: handle both shapes.
  const pkOf = (item: Record<string, any>): string => item.pk?.S ?? item.pk;
  observe(client).add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { IndexName?: string; ExpressionAttributeValues?: Record<string, unknown> };
      if (context.commandName !== 'QueryCommand' || !input.IndexName) return result;
      const output = result.output as { Items?: Record<string, any>[]; Count?: number };
      const items = output.Items ?? [];
      const marshalled = Object.values(input.ExpressionAttributeValues ?? {}).some(
        (value) => typeof value === 'object' && value !== null && 'S' in value,
      );
      const kept = items.filter((item) => !hidden(pkOf(item)));
      const added = extra
        .filter((pk) => !kept.some((item) => pkOf(item) === pk))
        .map((pk) => (marshalled ? { pk: { S: pk } } : { pk }));
      output.Items = [...kept, ...added];
      output.Count = output.Items.length;
      altered += 1;
      return result;
    },
    { step: 'initialize', name },
  );
  return {
    hide(predicate) {
      hidden = predicate;
    },
    alsoReturn(pks) {
      extra = pks;
    },
    get altered() {
      return altered;
    },
    remove() {
      observe(client).remove(name);
    },
  };
}

export interface UnprocessedBatchKeys {
  /**
   * From now on every `BatchGetItem` answer leaves the requested keys for which `pick(pk)` is true unprocessed
   * (its item, if any, taken out of `Responses` and the key put in `UnprocessedKeys`), as DynamoDB does under
   * throttling; for the next `answers` answers only when given, then the reads heal.
   */
  leave(pick: (pk: string) => boolean, answers?: number): void;
  heal(): void;
  /** How many `BatchGetItem` answers were altered since the last `leave`. */
  readonly altered: number;
  remove(): void;
}

/**
 * Makes `BatchGetItem` leave keys unprocessed, at the SDK client (a middleware at the `initialize` step, on the
 * answer's way back): the keys are still read by the store, but the caller is told they were not answered.
 */
export function unprocessedBatchKeys(
  client: ObservedClients,
  name = 'test-unprocessed-keys',
): UnprocessedBatchKeys {
  let pick: (pk: string) => boolean = () => false;
  let remaining = 0;
  let altered = 0;
  // Keys and items pass this step marshalled or not, depending on the document client's order: both shapes.
  const pkOf = (item: Record<string, any>): string => item.pk?.S ?? item.pk;
  observe(client).add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (!/^BatchGet(Item)?Command$/.test(String(context.commandName)) || remaining <= 0) return result;
      const input = args.input as { RequestItems?: Record<string, { Keys?: Record<string, any>[] }> };
      const output = result.output as {
        Responses?: Record<string, Record<string, any>[]>;
        UnprocessedKeys?: Record<string, { Keys?: Record<string, any>[]; ConsistentRead?: boolean }>;
      };
      let changed = false;
      for (const [table, request] of Object.entries(input.RequestItems ?? {})) {
        const left = (request.Keys ?? []).filter((key) => pick(pkOf(key)));
        if (left.length === 0) continue;
        const leftPks = new Set(left.map(pkOf));
        output.Responses ??= {};
        output.Responses[table] = (output.Responses[table] ?? []).filter((item) => !leftPks.has(pkOf(item)));
        output.UnprocessedKeys ??= {};
        const already = output.UnprocessedKeys[table]?.Keys ?? [];
        output.UnprocessedKeys[table] = { Keys: [...already, ...left], ConsistentRead: true };
        changed = true;
      }
      if (changed) {
        altered += 1;
        remaining -= 1;
      }
      return result;
    },
    { step: 'initialize', name },
  );
  return {
    leave(next, answers = Number.POSITIVE_INFINITY) {
      pick = next;
      remaining = answers;
      altered = 0;
    },
    heal() {
      remaining = 0;
    },
    get altered() {
      return altered;
    },
    remove() {
      observe(client).remove(name);
    },
  };
}

/** One request as a step injector sees it: its operation (`GetItem`, `UpdateItem`, ...) and its input. */
export interface SeenRequest {
  operation: string;
  input: Record<string, any>;
}

export interface StepInjector {
  /**
   * Runs `step` once, between two requests of the code under test: just after the `n`-th request from now on
   * (counting from 1) that `match` accepts has been answered, before its caller sees the answer (`after`), or
   * just before it is sent (`before`). The requests `step` itself sends are neither counted nor held.
   */
  arm(
    n: number,
    step: () => Promise<void>,
    options?: { when?: 'before' | 'after'; match?: (request: SeenRequest) => boolean },
  ): void;
  /** Whether the armed step has run. */
  readonly fired: boolean;
  /** Requests counted since `arm` (the step's own excluded). */
  readonly seen: number;
  disarm(): void;
  remove(): void;
}

/**
 * Injects a step of the test's own (a racing request, a clock move) between two requests the code under test
 * sends, with a middleware at the `initialize` step of the client: the race lands exactly between a read and
 * the write it decides, which no timing can promise. The step's own requests pass straight through (they are
 * told apart by their async context).
 */
export function injectStep(client: ObservedClients, name = 'test-step-injector'): StepInjector {
  const ownStep = new AsyncLocalStorage<true>();
  let armed:
    | { n: number; step: () => Promise<void>; when: 'before' | 'after'; match: (r: SeenRequest) => boolean }
    | undefined;
  let fired = false;
  let seen = 0;
  const run = async (step: () => Promise<void>) => {
    fired = true;
    armed = undefined;
    await ownStep.run(true, step);
  };
  observe(client).add(
    (next, context) => async (args) => {
      const plan = armed;
      if (!plan || ownStep.getStore()) return next(args);
      const request = {
        operation: operationOf(context.commandName),
        input: args.input as Record<string, any>,
      };
      if (!plan.match(request)) return next(args);
      seen += 1;
      if (seen !== plan.n) return next(args);
      if (plan.when === 'before') await run(plan.step);
      try {
        return await next(args);
      } finally {
        if (plan.when === 'after') await run(plan.step);
      }
    },
    { step: 'initialize', name },
  );
  return {
    arm(n, step, options = {}) {
      armed = { n, step, when: options.when ?? 'after', match: options.match ?? (() => true) };
      fired = false;
      seen = 0;
    },
    get fired() {
      return fired;
    },
    get seen() {
      return seen;
    },
    disarm() {
      armed = undefined;
    },
    remove() {
      observe(client).remove(name);
    },
  };
}

/** One DynamoDB request held at the gate: which flow sent it and what it is. */
export interface HeldRequest {
  flow: number;
  operation: string;
}

export interface Interleaver {
  /**
   * Runs `flows` at once with every DynamoDB request they send held at a gate, and lets the requests through one
   * at a time: whenever every unfinished flow is waiting on the gate, `choose(held)` picks which held request
   * goes next (an index into `held`), and the next pick waits until that request's answer is back and every
   * flow is waiting again (or done). So the requests reach the table in exactly the order the picks say, and any
   * order the flows allow can be produced. Requests from outside the flows pass untouched.
   * Returns each flow's outcome, and the order the requests went in.
   */
  run<T>(
    flows: readonly (() => Promise<T>)[],
    choose: (held: readonly HeldRequest[], step: number) => number,
  ): Promise<{ outcomes: PromiseSettledResult<T>[]; order: HeldRequest[] }>;
  remove(): void;
}

/** How long the flows may take to reach the gate again (argon2, the key ring) before the run fails. */
const GATE_DEADLINE_MS = 10_000;

/**
 * An {@link Interleaver} on `client`: a middleware at the `initialize` step (before the SDK's retries) holds
 * each request of a flow (known by an `AsyncLocalStorage` the flow runs in) until the driver lets it through.
 */
export function interleaveRequests(client: ObservedClients, name = 'test-interleaver'): Interleaver {
  const flowOf = new AsyncLocalStorage<number>();
  const held: (HeldRequest & { release(): void; answered: Promise<void> })[] = [];
  observe(client).add(
    (next, context) => async (args) => {
      const flow = flowOf.getStore();
      if (flow === undefined) return next(args);
      let answer!: () => void;
      const answered = new Promise<void>((resolve) => {
        answer = resolve;
      });
      await new Promise<void>((release) => {
        held.push({ flow, operation: operationOf(context.commandName), release, answered });
      });
      try {
        return await next(args);
      } finally {
        answer();
      }
    },
    { step: 'initialize', name },
  );

  /** Resolves once every flow is done or waiting at the gate (checked after the pending I/O callbacks ran). */
  async function settled(done: ReadonlySet<number>, flows: number): Promise<void> {
    const deadline = Date.now() + GATE_DEADLINE_MS;
    for (;;) {
      // Two turns of the event loop: a flow sending two requests at once (Promise.all) has sent both by then.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      let waiting = true;
      for (let flow = 0; flow < flows; flow += 1)
        if (!done.has(flow) && !held.some((request) => request.flow === flow)) waiting = false;
      if (waiting) return;
      if (Date.now() > deadline) throw new Error('the interleaved flows did not reach the gate in time');
    }
  }

  return {
    async run(flows, choose) {
      const done = new Set<number>();
      const outcomes = Promise.allSettled(
        flows.map((flow, index) =>
          flowOf.run(index, flow).finally(() => {
            done.add(index);
          }),
        ),
      );
      const order: HeldRequest[] = [];
      for (let step = 0; ; step += 1) {
        await settled(done, flows.length);
        if (held.length === 0) break;
        const picked = Math.min(Math.max(0, choose(held, step)), held.length - 1);
        const [request] = held.splice(picked, 1);
        if (!request) break;
        order.push({ flow: request.flow, operation: request.operation });
        request.release();
        await request.answered;
      }
      return { outcomes: await outcomes, order };
    },
    remove() {
      observe(client).remove(name);
    },
  };
}
