import { randomUUID } from 'node:crypto';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../infra/local/dynamo.ts';
import { type LocalServer, startLocalServer } from '../../infra/local/server.ts';
import { defaults } from '../../lib/config.ts';

/** The signing key the tests' services use (a test value, not a secret). */
export const TEST_SECRET = 'test-signing-key-for-the-test-suite-only-0123456789';

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or `undefined` for an empty one. */
  json: any;
  text: string;
}

export interface TestService {
  server: LocalServer;
  url: string;
  request(
    method: string,
    path: string,
    init?: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
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

export interface TokenPairBody {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  expiresIn: number;
  refreshExpiresIn: number;
}

export const DEFAULT_PASSWORD = 'correct horse battery staple';

/**
 * Starts the whole service in this process, as `npm start` does (real handlers, the embedded dynalite store,
 * the SSM stand-in), with `env` overriding the functions' configuration and `options.jwtSecret` the signing-key
 * value (the HS256 {@link TEST_SECRET} by default). One per test file: the functions
 * read their configuration once, at import.
 *
 * With `TEST_DYNAMODB_ENDPOINT` set (`npm run test:ddb-local` sets it to DynamoDB Local), the service uses that
 * store instead, in a table of its own, so that test files running side by side never share state.
 */
export async function startTestService(
  env: Record<string, string> = {},
  options: { jwtSecret?: string; ssmFault?: number } = {},
): Promise<TestService> {
  const dynamoDbEndpoint = process.env.TEST_DYNAMODB_ENDPOINT || undefined;
  const server = await startLocalServer({
    port: 0,
    jwtSecret: options.jwtSecret ?? TEST_SECRET,
    ssmFault: options.ssmFault,
    dynamoDbEndpoint,
    env: dynamoDbEndpoint ? { TABLE_NAME: `auth-test-${randomUUID()}`, ...env } : env,
  });
  const db = DynamoDBDocumentClient.from(localDynamoClient(server.dynamoDbEndpoint));
  const request: TestService['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined = init.rawBody;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(server.url + path, { method, headers, body });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json, text };
  };
  const post: TestService['post'] = (path, body, headers) => request('POST', path, { body, headers });
  const login: TestService['login'] = (username, password = DEFAULT_PASSWORD) =>
    post('/auth/login', { username, password });
  return {
    server,
    url: server.url,
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
      const tableName = process.env.TABLE_NAME ?? defaults.TABLE_NAME;
      await db.send(new DeleteCommand({ TableName: tableName, Key: { pk } }));
    },
    async storedItem(pk) {
      const tableName = process.env.TABLE_NAME ?? defaults.TABLE_NAME;
      const { Item } = await db.send(
        new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true }),
      );
      return Item;
    },
    async close() {
      db.destroy();
      await server.close();
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
