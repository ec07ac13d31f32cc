import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../lib/errors.ts';
import { logger } from '../../lib/observability/metrics.ts';
import { defaultServices } from '../../lib/services.ts';
import { createDocumentClient, createDynamoDbClient, sdkLogger } from '../../lib/store/dynamodb.ts';
import { SessionStore } from '../../lib/store/sessions.ts';
import { startTestService, type TestService } from '../support/service.ts';

// A DynamoDB that takes a request and never answers: the client's requestTimeout aborts the attempt (its socket
// is closed), the SDK retries it, and once the attempts are spent the store call is a 503. The SDK's own
// warnings reach the log as structured lines, and a burst repeats none of them.

let service: TestService;
let output = '';
const restore: (() => void)[] = [];

/** Captures what is printed (stdout, stderr, console) while `run` runs; passing runs stay quiet. */
function startCapture() {
  output = '';
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      output += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = write;
    });
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      output += `${args.map(String).join(' ')}\n`;
    };
    restore.push(() => {
      console[level] = original;
    });
  }
}
function stopCapture(): string[] {
  for (const undo of restore.splice(0)) undo();
  return output.split('\n').filter((line) => line.trim() !== '');
}
const unstructured = (lines: string[]) =>
  lines.filter((line) => {
    try {
      JSON.parse(line);
      return false;
    } catch {
      return true;
    }
  });

/**
 * A stand-in for DynamoDB in front of the test's store: the first `hang` requests are taken and never answered
 * (their sockets left open), the rest are passed on to the real store.
 */
async function hangingStore(target: string, hang: number) {
  const hung: IncomingMessage[] = [];
  const closed: Promise<void>[] = [];
  let seen = 0;
  const server: Server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    seen += 1;
    if (seen <= hang) {
      hung.push(request);
      closed.push(new Promise((resolve) => request.socket.once('close', () => resolve())));
      return;
    }
    const body: Buffer[] = [];
    for await (const chunk of request) body.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(([name]) => name !== 'host' && name !== 'content-length'),
    ) as Record<string, string>;
    const answer = await fetch(target, { method: 'POST', headers, body: Buffer.concat(body) });
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get seen() {
      return seen;
    },
    /** Resolves once every hung request's socket was closed by the client (an abort). */
    allClosed: () => Promise.all(closed),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  service = await startTestService();
});
afterEach(() => {
  stopCapture();
});
afterAll(() => service.close());

function storeBehind(url: string, requestTimeoutMs: number) {
  // The functions' bounds, with the answer timeout the test chooses.
  const db = createDocumentClient(createDynamoDbClient({ endpoint: url, requestTimeoutMs }));
  return { db, sessions: new SessionStore(db, defaultServices().config.tableName) };
}

describe('a DynamoDB request that gets no answer', () => {
  it('is aborted after requestTimeout and retried: the read succeeds on a later attempt', async () => {
    const proxy = await hangingStore(service.server.dynamoDbEndpoint, 1);
    // Long enough for a passed-on attempt to be answered on a busy machine (a slow one is aborted and retried too,
    // and is allowed: what is asserted is that the hung one was aborted and the read did not end with it).
    const { db, sessions } = storeBehind(proxy.url, 1000);
    startCapture();
    try {
      expect(await sessions.getSession('no-such-session')).toBeUndefined();
      expect(proxy.seen).toBeGreaterThanOrEqual(2);
      expect(proxy.seen).toBeLessThanOrEqual(3);
      await proxy.allClosed();
      expect(unstructured(stopCapture())).toEqual([]);
    } finally {
      db.destroy();
      await proxy.close();
    }
  });

  it('ends as a 503 once every attempt was aborted, and prints no unstructured line', async () => {
    const proxy = await hangingStore(service.server.dynamoDbEndpoint, Number.POSITIVE_INFINITY);
    // Short: every attempt hangs, so each one costs the whole timeout.
    const { db, sessions } = storeBehind(proxy.url, 250);
    startCapture();
    try {
      const failure = await sessions.getSession('no-such-session').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ApiError);
      expect((failure as ApiError).status).toBe(503);
      expect((failure as Error & { cause?: Error }).cause?.name).toBe('TimeoutError');
      // maxAttempts 3: the first attempt and two retries, each aborted.
      expect(proxy.seen).toBe(3);
      await proxy.allClosed();
      expect(unstructured(stopCapture())).toEqual([]);
    } finally {
      db.destroy();
      await proxy.close();
    }
  });
});

describe('the SDK’s warnings', () => {
  it('are structured lines, and a warning repeated in a burst is printed once', async () => {
    // The suite keeps Powertools' own lines off (vitest.config.ts): what reaches its logger is what it prints.
    const structured = vi.spyOn(logger, 'warn');
    startCapture();
    try {
      const atCapacity = '@smithy/node-http-handler:WARN - socket usage at capacity=50';
      for (let i = 0; i < 200; i += 1) sdkLogger.warn(atCapacity);
      sdkLogger.warn('another warning');
      sdkLogger.debug();
      sdkLogger.info();
      await vi.waitFor(() => expect(structured).toHaveBeenCalledTimes(2));
      expect(unstructured(stopCapture())).toEqual([]);
      expect(structured.mock.calls.map(([message, fields]) => [message, (fields as any)?.detail])).toEqual([
        ['DynamoDB client warning', atCapacity],
        ['DynamoDB client warning', 'another warning'],
      ]);
    } finally {
      structured.mockRestore();
    }
  });

  it('a burst of 200 logins prints no unstructured line, and none is a 500', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `burst-user-${i}`);
    for (const user of users) await service.signUp(user);
    startCapture();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => service.login(users[i % users.length] ?? '')),
    );
    const lines = stopCapture();
    // Logins racing for one name's check slots may be told to wait (429) or, past the store's retries, 503.
    expect(answers.filter((answer) => ![200, 429, 503].includes(answer.status))).toEqual([]);
    expect(answers.some((answer) => answer.status === 200)).toBe(true);
    expect(unstructured(lines)).toEqual([]);
  });
});
