import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../lib/errors.ts';
import { defaultServices } from '../../lib/services.ts';
import { DynamoDbHttpClient, nodeTransport, type Transport } from '../../lib/store/dynamodb-http.ts';
import { SessionReader } from '../../lib/store/session-reader.ts';
import { unprocessedBatchKeys } from '../support/sdk-middleware.ts';
import { claimsOf, startTestService, type TestService } from '../support/service.ts';

// The authorizer's DynamoDB client (lib/store/dynamodb-http.ts) holds the SDK client's rules: 3 attempts of at
// most 2 s, throttling, 5xx, timeouts and network faults retried, anything else not; keys left unprocessed asked
// for again, then a 503; and what it reads is what the SDK reads. Against the suite's store (dynalite, or
// DynamoDB Local under `npm run test:ddb-local`).

let service: TestService;
let userCount = 0;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

const env = () => ({
  AWS_REGION: 'local',
  AWS_ACCESS_KEY_ID: 'AKIDLOCAL',
  AWS_SECRET_ACCESS_KEY: 'local-secret',
  AWS_SESSION_TOKEN: 'local-session-token',
  AWS_ENDPOINT_URL_DYNAMODB: service.server.dynamoDbEndpoint,
});

/** A transport that answers the next `failures` attempts itself (with `status` and DynamoDB's error body). */
function failing(failures: number, status: number, type: string) {
  let left = failures;
  const seen: Record<string, string>[] = [];
  const transport: Transport = async (request) => {
    seen.push(request.headers);
    if (left <= 0) return nodeTransport(request);
    left -= 1;
    return {
      status,
      body: JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message: 'injected' }),
    };
  };
  return { transport, seen };
}

async function signedUp() {
  userCount += 1;
  const tokens = await service.signUp(`http-client-${userCount}`);
  const { sub, sid } = claimsOf(tokens.accessToken) as { sub: string; sid: string };
  return { userId: sub, sid, tokens };
}

const readerWith = (transport?: Transport, options: { attemptTimeoutMs?: number } = {}) => {
  const db = new DynamoDbHttpClient(env(), { ...(transport && { transport }), ...options });
  return { db, reader: new SessionReader(db, defaultServices().config.tableName) };
};

async function expect503(read: Promise<unknown>) {
  const error = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe('service_unavailable');
}

describe('the authorizer’s DynamoDB client', () => {
  it('reads a session and its account exactly as the SDK client does, in one signed request', async () => {
    const { userId, sid } = await signedUp();
    await defaultServices().accounts.updateRoles(userId, { add: ['support', 'admin'] });
    const { transport, seen } = failing(0, 200, '');
    const { reader } = readerWith(transport);
    const viaHttp = await reader.getSessionWithAccount(sid, userId);
    expect(viaHttp).toEqual(await defaultServices().sessions.getSessionWithAccount(sid, userId));
    expect(viaHttp.session?.sid).toBe(sid);
    expect(viaHttp.account.roles).toEqual(['admin', 'support']);
    expect(seen).toHaveLength(1);
    // SigV4 with the environment's credentials, the session token included.
    expect(seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDLOCAL\/\d{8}\/local\/dynamodb\/aws4_request, SignedHeaders=\S*x-amz-security-token\S*, Signature=[0-9a-f]{64}$/,
    );
    expect(seen[0]?.['x-amz-security-token']).toBe('local-session-token');
    expect(seen[0]?.['x-amz-target']).toBe('DynamoDB_20120810.BatchGetItem');
  });

  it('reads no session and an account at its defaults for ids with no items, rather than failing', async () => {
    const { reader } = readerWith();
    const read = await reader.getSessionWithAccount('no-such-session', 'no-such-user');
    expect(read.session).toBeUndefined();
    expect(read.account).toMatchObject({ generation: 0, roles: [], disabled: false, deleted: false });
  });

  it.each([
    ['throttling', 400, 'ProvisionedThroughputExceededException'],
    ['a server error', 500, 'InternalServerError'],
  ])('retries %s within its three attempts, and reads the session', async (_name, status, type) => {
    const { userId, sid } = await signedUp();
    const { transport, seen } = failing(2, status, type);
    const { reader } = readerWith(transport);
    expect((await reader.getSessionWithAccount(sid, userId)).session?.sid).toBe(sid);
    expect(seen).toHaveLength(3);
  });

  it.each([
    ['throttling that persists', 3, 400, 'ProvisionedThroughputExceededException'],
    ['a server error that persists', 3, 500, 'InternalServerError'],
    ['a refusal that no retry changes', 1, 400, 'ValidationException'],
    ['missing permissions', 1, 400, 'AccessDeniedException'],
  ])('turns %s into a 503 after %i attempt(s)', async (_name, attempts, status, type) => {
    const { userId, sid } = await signedUp();
    const { transport, seen } = failing(10, status, type);
    const { reader } = readerWith(transport);
    await expect503(reader.getSessionWithAccount(sid, userId));
    expect(seen).toHaveLength(attempts);
  });

  it('bounds each attempt by its timeout against a store that never answers, and is a 503 after three', async () => {
    const sockets = new Set<Socket>();
    let connections = 0;
    const silent: Server = createServer((socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const db = new DynamoDbHttpClient(
        { ...env(), AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}` },
        { attemptTimeoutMs: 100 },
      );
      const reader = new SessionReader(db, defaultServices().config.tableName);
      await expect503(reader.getSessionWithAccount('some-session', 'some-user'));
      // Each timed-out attempt's connection is dropped: three attempts, three connections.
      expect(connections).toBe(3);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('is a 503, sending nothing, without credentials in the environment', async () => {
    const { transport, seen } = failing(0, 200, '');
    const db = new DynamoDbHttpClient({ AWS_REGION: 'local' }, { transport });
    await expect503(new SessionReader(db, 'table').getSessionWithAccount('s', 'u'));
    expect(seen).toHaveLength(0);
  });

  it('asks again for keys left unprocessed, and is a 503, never "no item", when they stay unprocessed', async () => {
    const { userId, sid } = await signedUp();
    const { db, reader } = readerWith();
    const unprocessed = unprocessedBatchKeys(db);
    try {
      unprocessed.leave((pk) => pk === `account#${userId}`, 2);
      expect((await reader.getSessionWithAccount(sid, userId)).session?.sid).toBe(sid);
      expect(unprocessed.altered).toBe(2);
      unprocessed.leave((pk) => pk === `session#${sid}`);
      await expect503(reader.getSessionWithAccount(sid, userId));
      // The first answer and UNPROCESSED_RETRIES more.
      expect(unprocessed.altered).toBe(4);
    } finally {
      unprocessed.remove();
    }
  });
});
