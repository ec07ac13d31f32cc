import { randomUUID } from 'node:crypto';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import type { GatewayRequest, GatewayResponse } from '../../infra/local/gateway.ts';
import {
  type LocalBackend,
  type LocalServer,
  type LocalServerOptions,
  startLocalBackend,
  startLocalServer,
} from '../../infra/local/server.ts';
import { defaults } from '../../lib/config.ts';
import type { Argon2Params } from '../../lib/passwords/argon2.ts';
import { defaultServices } from '../../lib/services.ts';
import { generateSigningKey, isSigningAlgorithm } from '../../lib/tokens/keyring.ts';
import { attributeHandlers, attributeMailer, recordGrantUses, ungranted } from './grants.ts';
import { functionClients } from './sdk-middleware.ts';

/** The signing key the tests' services use (a test value, not a secret). */
export const TEST_SECRET = 'test-signing-key-for-the-test-suite-only-0123456789';

/**
 * The algorithm the test services sign with: HS256 with {@link TEST_SECRET}, unless `TEST_SIGNING_ALG` names
 * ES256 or RS256 (`TEST_SIGNING_ALG=ES256 npx vitest run test/integration` runs the suite in that mode).
 */
export const TEST_SIGNING_ALG = (() => {
  const alg = process.env.TEST_SIGNING_ALG || 'HS256';
  if (!isSigningAlgorithm(alg))
    throw new Error(`TEST_SIGNING_ALG must be HS256, ES256 or RS256 (got ${alg})`);
  return alg;
})();

/** The signing-key value the test services use: {@link TEST_SECRET}, or a key made for this run. */
export const TEST_SIGNING_KEY =
  TEST_SIGNING_ALG === 'HS256' ? TEST_SECRET : generateSigningKey(TEST_SIGNING_ALG);

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or `undefined` for an empty one. */
  json: any;
  text: string;
}

export interface RequestInit {
  /** Sent as JSON, with `content-type: application/json` unless a content type is given. */
  body?: unknown;
  /** Sent as it is. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** The caller's address as API Gateway would see it (its `sourceIp`); 127.0.0.1 when absent. */
  sourceIp?: string;
}

/**
 * The service under test, with one way to call it whatever carries the requests: {@link startTestService} calls
 * the handlers in this process (the fast tier), {@link startHttpTestService} goes over loopback HTTP.
 */
export interface TestService {
  /** The parts of the local service a test may reach into: the SSM stand-in and the store's endpoint. */
  server: Pick<LocalBackend, 'ssm' | 'dynamoDbEndpoint' | 'handlers' | 'mailDir'>;
  request(method: string, path: string, init?: RequestInit): Promise<ApiResponse>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  /** Registers `username` and logs in, returning the login response body. */
  signUp(username: string, password?: string): Promise<TokenPairBody>;
  login(username: string, password?: string): Promise<ApiResponse>;
  me(accessToken: string): Promise<ApiResponse>;
  /** The raw stored item under a key (e.g. `session#<sid>`), read straight from the store. */
  storedItem(pk: string): Promise<Record<string, any> | undefined>;
  /** Deletes a stored item, as DynamoDB's TTL sweep would. */
  deleteItem(pk: string): Promise<void>;
  close(): Promise<void>;
}

/** The service behind a real HTTP server on 127.0.0.1, for clients that need a URL. */
export interface HttpTestService extends TestService {
  server: LocalServer;
  url: string;
}

export interface TokenPairBody {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  refreshExpiresIn: number;
  /** A login's device token (API.md "Known devices"); a refresh answers none. */
  deviceToken?: string;
}

export const DEFAULT_PASSWORD = 'correct horse battery staple';

/** Beyond the environment: the signing-key value (the HS256 {@link TEST_SECRET} by default) and an SSM fault from the start. */
export interface TestServiceOptions {
  jwtSecret?: string;
  ssmFault?: number;
}

/**
 * The argon2id parameters of the services under test: the least node accepts, so that a login costs
 * microseconds instead of tens of milliseconds. The production parameters (`CURRENT_ARGON2_PARAMS`) keep their
 * own tests (test/unit/passwords.test.ts) and are what `npm start`, the bundles and the bench run.
 */
export const TEST_ARGON2_PARAMS: Argon2Params = { memory: 8, passes: 1, parallelism: 1 };

/**
 * The options of the local service under test: the test key, and with `TEST_DYNAMODB_ENDPOINT` set
 * (`npm run test:ddb-local` sets it to DynamoDB Local) that store, in a table of its own, so that test files
 * running side by side never share state.
 */
function testServiceOptions(env: Record<string, string>, options: TestServiceOptions): LocalServerOptions {
  const dynamoDbEndpoint = process.env.TEST_DYNAMODB_ENDPOINT || undefined;
  return {
    port: 0,
    jwtSecret: options.jwtSecret ?? TEST_SIGNING_KEY,
    ssmFault: options.ssmFault,
    dynamoDbEndpoint,
    env: {
      ...(options.jwtSecret === undefined &&
        TEST_SIGNING_ALG !== 'HS256' && { SIGNING_ALG: TEST_SIGNING_ALG }),
      ...(dynamoDbEndpoint && { TABLE_NAME: `auth-test-${randomUUID()}` }),
      MAIL_ECHO: 'false',
      ...env,
    },
    services: { argon2Params: TEST_ARGON2_PARAMS },
  };
}

/**
 * The fast tier: the real handlers, called in this process with API Gateway events (REST v1 proxy, and the
 * TOKEN authorizer before protected routes) by the same gateway code the local server runs
 * (`infra/local/gateway.ts`), against the in-process dynalite store and the SSM stand-in. No HTTP between the
 * test and the functions. `env` overrides the functions' configuration; one per test file, since the
 * functions read their configuration once, at import (vitest gives each file its own modules).
 */
export async function startTestService(
  env: Record<string, string> = {},
  options: TestServiceOptions = {},
): Promise<TestService> {
  const backend = await startLocalBackend(testServiceOptions(env, options));
  return testService(
    backend,
    (request) => backend.gateway.handle(request),
    () => backend.close(),
  );
}

/**
 * The whole service in this process as `npm start` runs it, behind a real HTTP server on 127.0.0.1: for the
 * tests of what only HTTP shows (the client SDK, body limits on the wire, the server itself).
 */
export async function startHttpTestService(
  env: Record<string, string> = {},
  options: TestServiceOptions = {},
): Promise<HttpTestService> {
  const server = await startLocalServer(testServiceOptions(env, options));
  const overHttp = async (request: GatewayRequest): Promise<GatewayResponse> => {
    const query = new URLSearchParams(request.query ?? {}).toString();
    const response = await fetch(`${server.url}${request.path}${query ? `?${query}` : ''}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
    const cookies = response.headers.getSetCookie();
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      ...(cookies.length > 0 && { multiValueHeaders: { 'set-cookie': cookies } }),
      body: await response.text(),
    };
  };
  return { ...testService(server, overHttp, () => server.close()), server, url: server.url };
}

function testService(
  backend: LocalBackend | LocalServer,
  send: (request: GatewayRequest) => Promise<GatewayResponse>,
  closeBackend: () => Promise<void>,
): TestService {
  const db = DynamoDBDocumentClient.from(localDynamoClient(backend.dynamoDbEndpoint));
  // Every DynamoDB request a function sends in any test is checked against that function's IAM profile
  // (infra/cdk/functions.ts) when the service closes: dynalite has no IAM, so a request no grant allows would
  // otherwise pass every test and be an AccessDenied (a 503) on AWS.
  attributeHandlers(backend.handlers);
  attributeMailer(defaultServices().outbox);
  const grantUses = recordGrantUses(functionClients());
  const request: TestService['request'] = async (method, path, init = {}) => {
    // Lower-case names, as Node's HTTP server hands them to the gateway.
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
    let body: string | undefined = init.rawBody;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const [pathname = '/', search = ''] = path.split('?');
    const answer = await send({
      method,
      path: pathname,
      query: Object.fromEntries(new URLSearchParams(search)),
      headers,
      body,
      ...(init.sourceIp !== undefined && { sourceIp: init.sourceIp }),
    });
    let json: unknown;
    try {
      json = answer.body === '' ? undefined : JSON.parse(answer.body);
    } catch {
      json = undefined;
    }
    const answerHeaders = new Headers(answer.headers);
    for (const [name, values] of Object.entries(answer.multiValueHeaders ?? {})) {
      answerHeaders.delete(name);
      for (const value of values) answerHeaders.append(name, value);
    }
    return { status: answer.status, headers: answerHeaders, json, text: answer.body };
  };
  const post: TestService['post'] = (path, body, headers) => request('POST', path, { body, headers });
  const login: TestService['login'] = (username, password = DEFAULT_PASSWORD) =>
    post('/auth/login', { username, password });
  const tableName = () => process.env.TABLE_NAME ?? defaults.TABLE_NAME;
  return {
    server: backend,
    request,
    post,
    login,
    async signUp(username, password = DEFAULT_PASSWORD) {
      const registered = await post('/auth/register', { username, password });
      if (registered.status !== 201)
        throw new Error(`register failed: ${registered.status} ${registered.text}`);
      const loggedIn = await login(username, password);
      if (loggedIn.status !== 200) throw new Error(`login failed: ${loggedIn.status} ${loggedIn.text}`);
      return loggedIn.json as TokenPairBody;
    },
    me: (accessToken) => request('GET', '/me', { headers: { authorization: `Bearer ${accessToken}` } }),
    async deleteItem(pk) {
      await db.send(new DeleteCommand({ TableName: tableName(), Key: { pk } }));
    },
    async storedItem(pk) {
      const { Item } = await db.send(
        new GetCommand({ TableName: tableName(), Key: { pk }, ConsistentRead: true }),
      );
      return Item;
    },
    async close() {
      grantUses.remove();
      db.destroy();
      await closeBackend();
      const missing = ungranted(grantUses.uses());
      if (missing.length > 0)
        throw new Error(
          `DynamoDB requests that no grant of infra/cdk/functions.ts allows (AccessDenied on AWS): ${missing
            .map((use) => `${use.function}: ${use.action} on ${use.target}`)
            .join('; ')}`,
        );
    },
  };
}

/** The claims of a JWT, decoded without verification (for assertions only). */
export function claimsOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

/** The header of a JWT, decoded without verification. */
export function headerOf(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8'));
}
