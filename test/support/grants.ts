import { AsyncLocalStorage } from 'node:async_hooks';
import { type ObservedClients, observe, operationOf } from '../../bench/request-counter.ts';
import { type FunctionProfile, functionProfiles } from '../../infra/cdk/functions.ts';
import type { Handlers } from '../../infra/local/gateway.ts';
import type { FunctionName } from '../../infra/routes.ts';
import type { Outbox } from '../../lib/mail/outbox.ts';
import { tableSchema } from '../../lib/store/schema.ts';

/**
 * What IAM would be asked to allow for one DynamoDB request a function sent: the action, and the kind of item
 * its key names (the grant's `dynamodb:LeadingKeys` condition is on the key's prefix), or the index a `Query`
 * reads. Requests are attributed to the function whose handler was running (its async context).
 */
export interface GrantUse {
  function: FunctionName;
  action: string;
  /**
   * `user`, `session`, ... (a key of `tableSchema.keyPrefix`), `index:<name>` for a query of an index, `mailQueue`
   * for a queued mail request, or `?`.
   */
  target: string;
}

const running = new AsyncLocalStorage<FunctionName>();

/**
 * Wraps every handler so that the requests it sends are attributed to its function. Mutates `handlers` in place:
 * the gateway looks its handlers up at each call.
 */
export function attributeHandlers(handlers: Handlers): void {
  for (const name of Object.keys(handlers.functions) as (keyof Handlers['functions'])[]) {
    const handler = handlers.functions[name];
    handlers.functions[name] = (event, context) => running.run(name, () => handler(event, context));
  }
  const authorizer = handlers.authorizer;
  handlers.authorizer = (event, context) => running.run('authorizer', () => authorizer(event, context));
}

const attributedOutboxes = new WeakSet<Outbox>();
/** The action a queued mail request needs: the SQS outbox's SendMessage on the mail queue. */
export const MAIL_QUEUE_SEND = 'sqs:SendMessage';
const activeRecorders = new Set<(use: GrantUse) => void>();

/**
 * Attributes the deliveries of the in-process mail queue to `mailer`, the function that consumes the queue on
 * AWS. The local queue starts delivering in the async context of the request that queued first, so without this
 * the mailer's reads and writes would be charged to that request's function.
 */
export function attributeMailer(outbox: Outbox): void {
  if (attributedOutboxes.has(outbox)) return;
  attributedOutboxes.add(outbox);
  const enqueue = outbox.enqueue.bind(outbox);
  outbox.enqueue = (request) => {
    // On AWS a queued request is an SQS SendMessage of the queuing function (its `enqueuesMail` grant).
    const fn = running.getStore();
    if (fn)
      for (const record of activeRecorders)
        record({ function: fn, action: MAIL_QUEUE_SEND, target: 'mailQueue' });
    // The queue's drain is started inside enqueue (on a later turn, in enqueue's async context): it runs as mailer.
    return running.run('mailer', () => enqueue(request));
  };
}

const pkOf = (key: Record<string, any> | undefined): unknown =>
  key?.[tableSchema.partitionKey]?.S ?? key?.[tableSchema.partitionKey];

function kindOf(pk: unknown): string {
  if (typeof pk !== 'string') return '?';
  const kind = Object.entries(tableSchema.keyPrefix).find(([, prefix]) => pk.startsWith(prefix));
  return kind ? kind[0] : '?';
}

/** The targets (item kinds or index) one request's input names. */
function targetsOf(operation: string, input: Record<string, any>): string[] {
  if (operation === 'Query' || operation === 'Scan')
    return [input.IndexName ? `index:${input.IndexName}` : '?'];
  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const keys: unknown[] = [];
    for (const request of Object.values(input.RequestItems ?? {}) as any[]) {
      if (Array.isArray(request)) {
        for (const write of request) keys.push(pkOf(write.PutRequest?.Item ?? write.DeleteRequest?.Key));
      } else for (const key of request.Keys ?? []) keys.push(pkOf(key));
    }
    return keys.map(kindOf);
  }
  return [kindOf(pkOf(input.Key ?? input.Item))];
}

let recorders = 0;

/**
 * Records every request a function sends through `clients` (the SDK's and the authorizer's), and every mail
 * request it queues through an outbox given to {@link attributeMailer}, as the grant it needs.
 */
export function recordGrantUses(
  clients: ObservedClients,
  name = `test-grant-uses-${++recorders}`,
): { uses(): GrantUse[]; remove(): void } {
  const seen = new Map<string, GrantUse>();
  const record = (use: GrantUse) => seen.set(`${use.function} ${use.action} ${use.target}`, use);
  activeRecorders.add(record);
  observe(clients).add(
    (next, context) => async (args) => {
      const fn = running.getStore();
      if (fn) {
        const operation = operationOf(context.commandName);
        for (const target of targetsOf(operation, args.input as Record<string, any>))
          record({ function: fn, action: `dynamodb:${operation}`, target });
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    uses: () => [...seen.values()],
    remove: () => {
      activeRecorders.delete(record);
      observe(clients).remove(name);
    },
  };
}

/** Whether a function's profile (infra/cdk/functions.ts) grants one use, as the stack turns it into IAM. */
export function granted(profile: FunctionProfile, use: GrantUse): boolean {
  if (use.action === MAIL_QUEUE_SEND) return use.target === 'mailQueue' && profile.enqueuesMail === true;
  if (use.target.startsWith('index:'))
    return (
      use.action === 'dynamodb:Query' &&
      profile.queriesUserIndex &&
      use.target === `index:${tableSchema.liveSessionIndex.name}`
    );
  return profile.tableActions.includes(use.action) && (profile.itemKinds as string[]).includes(use.target);
}

/** The uses no profile grants: each would be an AccessDenied (a 503) on AWS. */
export function ungranted(
  uses: readonly GrantUse[],
  profiles: Record<FunctionName, FunctionProfile> = functionProfiles,
): GrantUse[] {
  return uses.filter((use) => !granted(profiles[use.function], use));
}
