import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import type { ProxyHandler } from '../../infra/local/gateway.ts';
import { TIMEOUT_EARLY_MS, toApiError } from '../../lib/http/function.ts';
import { defaultServices } from '../../lib/services.ts';
import { startTestService, type TestService } from '../support/service.ts';

// A request the service cannot serve in time is 503 service_unavailable with Retry-After, never
// a 500: middy's early timeout (before the Lambda's own), and whatever names itself a timeout or an abort.
let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

/** Holds every DynamoDB request of the functions' client until released: a dependency that does not answer. */
function hangDynamoDb(): { release(): void } {
  const db = defaultServices().db;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const name = 'test-hang-dynamodb';
  db.middlewareStack.add(
    (next) => async (args) => {
      await gate;
      return next(args);
    },
    { step: 'initialize', name },
  );
  return {
    release() {
      db.middlewareStack.remove(name);
      release();
    },
  };
}

/** A Lambda context with `remaining` milliseconds left (middy reads it to time out early). */
const contextWith = (name: string, remaining: number): Context => ({
  ...lambdaContext(name),
  getRemainingTimeInMillis: () => remaining,
});

const invoke = (name: string, body: unknown) =>
  (service.server.handlers.functions as Record<string, ProxyHandler>)[name]?.(
    proxyEvent({
      method: 'POST',
      path: `/auth/${name}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
    contextWith(name, TIMEOUT_EARLY_MS + 100),
  ) as Promise<APIGatewayProxyResult>;

function expectUnavailable(result: APIGatewayProxyResult) {
  expect(result.statusCode).toBe(503);
  expect(JSON.parse(result.body)).toEqual({ error: 'service_unavailable', message: expect.any(String) });
  expect(Number(result.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
}

describe('a function that runs out of time while DynamoDB does not answer', () => {
  it.each([
    ['login', async () => ({ username: 'slow-user', password: 'some password here' })],
    ['register', async () => ({ username: 'slow-new-user', password: 'a fine long passphrase' })],
    ['refresh', async () => ({ refreshToken: (await service.signUp('slow-refresher')).refreshToken })],
    ['logout', async () => ({ refreshToken: (await service.signUp('slow-leaver')).refreshToken })],
  ])('%s answers 503 with Retry-After before the Lambda timeout', async (name, body) => {
    const request = await body();
    const dynamo = hangDynamoDb();
    try {
      expectUnavailable(await invoke(name, request));
    } finally {
      dynamo.release();
    }
  });

  it('200 concurrent logins to unknown names: every one is a 503, none a 500', async () => {
    const dynamo = hangDynamoDb();
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          invoke('login', { username: `unknown-${i}`, password: 'not a password we know' }),
        ),
      );
      for (const result of results) expectUnavailable(result);
    } finally {
      dynamo.release();
    }
  });
});

describe('errors that say the request ran out of time', () => {
  it.each([
    [
      "middy's early timeout",
      Object.assign(new Error('[AbortError]: The operation was aborted.'), { name: 'TimeoutError' }),
    ],
    ['an aborted call', new DOMException('This operation was aborted', 'AbortError')],
    ['a timeout signal', new DOMException('The operation timed out.', 'TimeoutError')],
  ])('%s is 503 service_unavailable with Retry-After', (_name, error) => {
    const answer = toApiError(error);
    expect(answer.code).toBe('service_unavailable');
    expect(Number(answer.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  });
});
