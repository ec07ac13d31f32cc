import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { defaults } from '../../lib/config.ts';
import { type ErrorCode, errorCatalogue } from '../../lib/errors.ts';
import { type CorsPolicy, corsHeaders, corsPolicyFromEnv, preflightHeaders } from '../../lib/http/cors.ts';
import {
  generateSigningKey,
  isSigningAlgorithm,
  parseKeyRing,
  signingAlgorithms,
} from '../../lib/tokens/keyring.ts';
import { type FunctionName, type Route, routes } from '../routes.ts';
import { serveDemoPage } from './demo-page.ts';
import { createTable, type LocalDynamo, startLocalDynamo } from './dynamo.ts';
import { lambdaContext, proxyEvent } from './events.ts';
import { type SsmStandIn, startSsmStandIn } from './ssm-stand-in.ts';

export interface LocalServerOptions {
  /** Port for the API on 127.0.0.1; 0 picks a free one. */
  port?: number;
  /** The signing-key value (single key or JSON ring); a random ephemeral key of `SIGNING_ALG` when absent. */
  jwtSecret?: string | undefined;
  /**
   * `JWT_ISSUER` (unless `env` sets it). With ES256/RS256 it defaults to the server's own base URL, where
   * verifiers find the discovery document (API.md); with HS256 to the configured default, so that tokens
   * survive a restart on another port.
   */
  issuer?: string | undefined;
  /** An existing DynamoDB-compatible endpoint; an embedded in-memory store when absent. */
  dynamoDbEndpoint?: string | undefined;
  /** An HTTP status the SSM stand-in fails with from the start, before the functions load (a test fault). */
  ssmFault?: number | undefined;
  /** Extra environment for the functions (token lifetimes and the like). */
  env?: Record<string, string>;
}

export interface LocalServer {
  url: string;
  ssm: SsmStandIn;
  dynamoDbEndpoint: string;
  /** True when the signing key was generated for this run only. */
  ephemeralKey: boolean;
  close(): Promise<void>;
}

type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
type AuthorizerHandler = (
  event: APIGatewayTokenAuthorizerEvent,
  context: Context,
) => Promise<{
  principalId: string;
  policyDocument: { Statement: { Effect: string }[] };
  context?: Record<string, unknown>;
}>;

/** API Gateway refuses bodies over 10 MB before any function runs; so does this server. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

/**
 * Starts the service locally: the embedded DynamoDB-compatible store (or `dynamoDbEndpoint`), the SSM
 * stand-in holding the signing key, and an HTTP server that turns each request into an API Gateway REST
 * (v1 proxy) event for the real handlers, running the authorizer before protected routes as API Gateway does.
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const algorithm = options.env?.SIGNING_ALG ?? process.env.SIGNING_ALG ?? defaults.SIGNING_ALG;
  if (!isSigningAlgorithm(algorithm)) {
    throw new Error(`SIGNING_ALG must be one of ${signingAlgorithms.join(', ')}`);
  }
  const ephemeralKey = !options.jwtSecret;
  const secret = options.jwtSecret || generateSigningKey(algorithm);
  parseKeyRing(secret, algorithm); // refuse a short, malformed or other-algorithm key at start-up, clearly

  const dynamo: LocalDynamo | undefined = options.dynamoDbEndpoint ? undefined : await startLocalDynamo();
  const dynamoDbEndpoint = options.dynamoDbEndpoint ?? (dynamo as LocalDynamo).endpoint;
  const ssm = await startSsmStandIn();
  const tableName = options.env?.TABLE_NAME ?? process.env.TABLE_NAME ?? defaults.TABLE_NAME;
  const parameterName =
    options.env?.JWT_SECRET_PARAM ?? process.env.JWT_SECRET_PARAM ?? defaults.JWT_SECRET_PARAM;
  ssm.setParameter(parameterName, secret);
  ssm.failWith(options.ssmFault);
  await createTable(dynamoDbEndpoint, tableName);

  // Listening first, so that the server's own URL (the default issuer) is known before the functions load.
  let handlers: Handlers | undefined;
  let corsPolicy: CorsPolicy | undefined;
  const server: Server = createServer((req, res) => {
    if (!handlers || !corsPolicy) {
      const { status, message } = errorCatalogue.service_unavailable;
      return sendJson(res, status, { error: 'service_unavailable', message }, { 'Retry-After': '1' });
    }
    serve(req, res, handlers, corsPolicy).catch((error: unknown) => {
      console.error('local server: unexpected failure', error instanceof Error ? error.message : error);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal server error' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  // The functions read their configuration once, at import, from the environment: as on Lambda.
  const issuer = options.issuer ?? (algorithm === 'HS256' ? defaults.JWT_ISSUER : url);
  Object.assign(process.env, {
    JWT_ISSUER: issuer,
    AWS_REGION: process.env.AWS_REGION ?? 'local',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'local',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    TABLE_NAME: tableName,
    JWT_SECRET_PARAM: parameterName,
    ...options.env,
  });
  try {
    handlers = await loadHandlers();
    corsPolicy = corsPolicyFromEnv();
  } catch (error) {
    server.close();
    await ssm.close();
    await dynamo?.close();
    throw error;
  }
  return {
    url,
    ssm,
    dynamoDbEndpoint,
    ephemeralKey,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await ssm.close();
      await dynamo?.close();
    },
  };
}

interface Handlers {
  functions: Record<Route['function'], ProxyHandler>;
  authorizer: AuthorizerHandler;
}

async function loadHandlers(): Promise<Handlers> {
  const load = async (name: FunctionName) => (await import(`../../functions/${name}.ts`)).handler;
  const functions = {} as Record<Route['function'], ProxyHandler>;
  for (const route of routes) functions[route.function] = await load(route.function);
  return { functions, authorizer: await load('authorizer') };
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

function sendError(res: ServerResponse, code: ErrorCode): void {
  sendJson(res, errorCatalogue[code].status, { error: code, message: errorCatalogue[code].message });
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

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: Handlers,
  corsPolicy: CorsPolicy,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const matching = routes.filter((route) => route.path === url.pathname);
  if (matching.length === 0 && (await serveDemoPage(req, res, url.pathname))) return;
  // What API Gateway does for the routes' CORS: answer preflights itself and put the headers on its own
  // errors (404/405, the authorizer's 401/403). The functions' answers carry their own (lib/http/function.ts).
  const ownCors = corsHeaders(corsPolicy, req.headers.origin);
  for (const [name, value] of Object.entries(ownCors)) res.setHeader(name, value);
  if (matching.length > 0 && req.method === 'OPTIONS' && corsPolicy.allowedOrigins.size > 0) {
    const methods = matching.map((candidate) => candidate.method);
    res.writeHead(204, preflightHeaders(corsPolicy, req.headers.origin, methods));
    return void res.end();
  }
  if (matching.length === 0) return sendError(res, 'not_found');
  const route = matching.find((candidate) => candidate.method === req.method);
  if (!route) return sendError(res, 'method_not_allowed');

  const body = await readBody(req);
  if (body === undefined) return sendError(res, 'payload_too_large');
  const headers = singleValueHeaders(req);
  const methodArn = `arn:aws:execute-api:local:000000000000:local/local/${route.method}${route.path}`;

  let authorizerContext: Record<string, unknown> | null = null;
  if (route.authorized) {
    // As API Gateway: no identity source means no call at all; a throw is 401; a Deny is 403.
    const authorization = headers.authorization;
    const unauthorized = () =>
      sendJson(res, 401, { message: 'Unauthorized' }, { 'WWW-Authenticate': 'Bearer' });
    if (!authorization) return unauthorized();
    try {
      const result = await handlers.authorizer(
        { type: 'TOKEN', authorizationToken: authorization, methodArn },
        lambdaContext('authorizer'),
      );
      if (result.policyDocument.Statement.some((statement) => statement.Effect !== 'Allow')) {
        return sendJson(res, 403, { message: 'User is not authorized to access this resource' });
      }
      authorizerContext = { principalId: result.principalId, ...result.context };
    } catch {
      return unauthorized();
    }
  }

  const event = proxyEvent({
    method: route.method,
    path: route.path,
    headers,
    body,
    query: Object.fromEntries(url.searchParams),
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    authorizer: authorizerContext,
  });

  const result = await handlers.functions[route.function](event, lambdaContext(route.function));
  for (const name of Object.keys(ownCors)) res.removeHeader(name);
  const responseHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) responseHeaders[name] = String(value);
  res.writeHead(result.statusCode, responseHeaders);
  res.end(result.body ?? '');
}
