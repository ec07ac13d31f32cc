import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaults } from '../../lib/config.ts';
import { type ServiceOptions, setDefaultServiceOptions } from '../../lib/services.ts';
import { parseKeyRing } from '../../lib/tokens/keyring.ts';
import { serveDemoPage } from './demo-page.ts';
import { createTable, type LocalDynamo, startLocalDynamo } from './dynamo.ts';
import { createGateway, type Gateway, type Handlers, isRoutePath, loadHandlers } from './gateway.ts';
import { type SsmStandIn, startSsmStandIn } from './ssm-stand-in.ts';

export interface LocalServerOptions {
  /** Port for the API on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** The signing-key value (single key or JSON ring); a random ephemeral key when absent. */
  jwtSecret?: string | undefined;
  /** An existing DynamoDB-compatible endpoint; an embedded in-memory store when absent. */
  dynamoDbEndpoint?: string | undefined;
  /** Extra environment for the functions (token lifetimes and the like). */
  env?: Record<string, string>;
  /** What the functions' services are created with beyond the environment (tests: cheaper argon2id). */
  services?: ServiceOptions;
}

/** The service without its HTTP listener: the store, the SSM stand-in, the handlers and the gateway in front. */
export interface LocalBackend {
  gateway: Gateway;
  handlers: Handlers;
  ssm: SsmStandIn;
  dynamoDbEndpoint: string;
  /** True when the signing key was generated for this run only. */
  ephemeralKey: boolean;
  close(): Promise<void>;
}

export interface LocalServer extends Omit<LocalBackend, 'close'> {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts everything the functions need in this process: the embedded DynamoDB-compatible store (or
 * `dynamoDbEndpoint`) with the table, the SSM stand-in holding the signing key, then the environment and the
 * handlers (imported after it, as Lambda reads its configuration at cold start) behind the gateway.
 */
export async function startLocalBackend(options: LocalServerOptions = {}): Promise<LocalBackend> {
  const ephemeralKey = !options.jwtSecret;
  const secret = options.jwtSecret || randomBytes(48).toString('base64url');
  parseKeyRing(secret); // refuse a short or malformed key at start-up, with its clear message

  const dynamo: LocalDynamo | undefined = options.dynamoDbEndpoint ? undefined : await startLocalDynamo();
  const dynamoDbEndpoint = options.dynamoDbEndpoint ?? (dynamo as LocalDynamo).endpoint;
  const ssm = await startSsmStandIn();
  const tableName = options.env?.TABLE_NAME ?? process.env.TABLE_NAME ?? defaults.TABLE_NAME;
  const parameterName =
    options.env?.JWT_SECRET_PARAM ?? process.env.JWT_SECRET_PARAM ?? defaults.JWT_SECRET_PARAM;
  ssm.setParameter(parameterName, secret);
  await createTable(dynamoDbEndpoint, tableName);

  // The functions read their configuration once, at import, from the environment: as on Lambda.
  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? 'local',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    TABLE_NAME: tableName,
    JWT_SECRET_PARAM: parameterName,
    ...options.env,
  });
  if (options.services) setDefaultServiceOptions(options.services);
  const handlers = await loadHandlers();
  return {
    gateway: createGateway(handlers),
    handlers,
    ssm,
    dynamoDbEndpoint,
    ephemeralKey,
    async close() {
      await ssm.close();
      await dynamo?.close();
    },
  };
}

/** API Gateway refuses bodies over 10 MB before any function runs; so does this server. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

/**
 * Starts the service locally: {@link startLocalBackend} and an HTTP server on 127.0.0.1 that hands each request
 * to the gateway (API Gateway's part: routes, CORS, the authorizer, then a REST v1 proxy event).
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const backend = await startLocalBackend(options);
  const server: Server = createServer((req, res) => {
    serve(req, res, backend.gateway).catch((error: unknown) => {
      console.error('local server: unexpected failure', error instanceof Error ? error.message : error);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal server error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...backend,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backend.close();
    },
  };
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > GATEWAY_MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function singleValueHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function serve(req: IncomingMessage, res: ServerResponse, gateway: Gateway): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (!isRoutePath(url.pathname) && (await serveDemoPage(req, res, url.pathname))) return;
  const body = await readBody(req);
  const answer = await gateway.handle({
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: singleValueHeaders(req),
    body: body ?? '',
    bodyTooLarge: body === undefined,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  });
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}
