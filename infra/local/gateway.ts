import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayTokenAuthorizerEvent,
  Context,
} from 'aws-lambda';
import { type ErrorCode, errorCatalogue } from '../../lib/errors.ts';
import { type CorsPolicy, corsHeaders, corsPolicyFromEnv, preflightHeaders } from '../../lib/http/cors.ts';
import { stepUpQualifier } from '../../lib/tokens/step-up.ts';
import { type FunctionName, matchRoutePath, type Route, routes } from '../routes.ts';
import { lambdaContext, proxyEvent } from './events.ts';

/**
 * What API Gateway does in front of the functions, without a socket: route matching (404/405), CORS preflights
 * and CORS headers on its own answers, the TOKEN authorizer before protected routes (401/403), then one
 * REST (v1 proxy) event to the route's handler. The local HTTP server (`server.ts`) and the in-process test tier
 * (`test/support/service.ts`) both call this, so the two cannot differ in anything but the transport.
 */
export interface GatewayRequest {
  method: string;
  /** The path without its query string. */
  path: string;
  query?: Record<string, string>;
  /** Header names in lower case, as Node's HTTP server hands them over. */
  headers?: Record<string, string>;
  /** The raw body; empty or absent when there is none. */
  body?: string;
  /** The body was over API Gateway's 10 MB and was not read: 413 once the route is known. */
  bodyTooLarge?: boolean;
  sourceIp?: string;
  /** The scheme the client used (`X-Forwarded-Proto`, as API Gateway passes it on); `http` when absent. */
  protocol?: 'http' | 'https';
}

export interface GatewayResponse {
  status: number;
  headers: Record<string, string>;
  /**
   * Headers sent once per value (`Set-Cookie`), as a Lambda proxy answer's `multiValueHeaders`: API Gateway
   * merges them with `headers`, the multi-value ones winning for a name in both.
   */
  multiValueHeaders?: Record<string, string[]>;
  body: string;
}

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
export type TokenAuthorizerHandler = (
  event: APIGatewayTokenAuthorizerEvent,
  context: Context,
) => Promise<{
  principalId: string;
  policyDocument: { Statement: { Effect: string }[] };
  context?: Record<string, unknown>;
}>;

/** The challenge a step-up Deny carries in its context (`functions/authorizer.ts`), as the stack maps it. */
const challengeOf = (context: Record<string, unknown> | undefined) =>
  typeof context?.wwwAuthenticate === 'string' ? context.wwwAuthenticate : undefined;

export interface Handlers {
  functions: Record<Route['function'], ProxyHandler>;
  authorizer: TokenAuthorizerHandler;
}

/**
 * Imports every function's handler. The functions read their configuration once, at import, from
 * `process.env`: set it first, as Lambda does.
 */
export async function loadHandlers(): Promise<Handlers> {
  const load = async (name: FunctionName) => (await import(`../../functions/${name}.ts`)).handler;
  const functions = {} as Record<Route['function'], ProxyHandler>;
  for (const route of routes) functions[route.function] = await load(route.function);
  return { functions, authorizer: await load('authorizer') };
}

/** True when some route serves `path` (whatever the method). */
export const isRoutePath = (path: string): boolean =>
  routes.some((route) => matchRoutePath(route.path, path) !== undefined);

/** The ARN API Gateway names a method by in the authorizer event (a local account and API). */
export const localMethodArn = (method: string, path: string): string =>
  `arn:aws:execute-api:local:000000000000:local/local/${method}${path}`;

export interface Gateway {
  handle(request: GatewayRequest): Promise<GatewayResponse>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): GatewayResponse => ({
  status,
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const errorAnswer = (code: ErrorCode, headers: Record<string, string>): GatewayResponse =>
  json(errorCatalogue[code].status, { error: code, message: errorCatalogue[code].message }, headers);

/** A gateway over `handlers`, with the CORS allow-list of the environment (`CORS_ORIGINS`) unless given. */
export function createGateway(handlers: Handlers, corsPolicy: CorsPolicy = corsPolicyFromEnv()): Gateway {
  const gateway: Gateway = {
    async handle(request) {
      const headers = request.headers ?? {};
      const matching = routes.filter((route) => matchRoutePath(route.path, request.path) !== undefined);
      // API Gateway answers preflights itself and puts the CORS headers on its own errors (404/405, the
      // authorizer's 401/403). The functions' answers carry their own (lib/http).
      const ownCors = corsHeaders(corsPolicy, headers.origin);
      if (matching.length > 0 && request.method === 'OPTIONS' && corsPolicy.allowedOrigins.size > 0) {
        const methods = matching.map((candidate) => candidate.method);
        return {
          status: 204,
          headers: { ...ownCors, ...preflightHeaders(corsPolicy, headers.origin, methods) },
          body: '',
        };
      }
      if (matching.length === 0) return errorAnswer('not_found', ownCors);
      const route = matching.find((candidate) => candidate.method === request.method);
      if (!route) return errorAnswer('method_not_allowed', ownCors);
      if (request.bodyTooLarge) return errorAnswer('payload_too_large', ownCors);

      let authorizerContext: Record<string, unknown> | null = null;
      if (route.authorized) {
        // As API Gateway: no identity source means no call at all; a throw is 401; a Deny is 403.
        const unauthorized = json(
          401,
          { message: 'Unauthorized' },
          { ...ownCors, 'WWW-Authenticate': 'Bearer' },
        );
        const authorization = headers.authorization;
        if (!authorization) return unauthorized;
        try {
          const result = await handlers.authorizer(
            {
              type: 'TOKEN',
              authorizationToken: authorization,
              methodArn: localMethodArn(route.method, request.path),
            },
            // A step-up route's rules reach the authorizer as the stack passes them: by the alias it invokes.
            lambdaContext('authorizer', stepUpQualifier(route.stepUp)),
          );
          if (result.policyDocument.Statement.some((statement) => statement.Effect !== 'Allow')) {
            // The stack's ACCESS_DENIED response: a step-up Deny is a 401 with its RFC 9470 challenge.
            const challenge = challengeOf(result.context);
            if (challenge)
              return json(401, { message: 'Unauthorized' }, { ...ownCors, 'WWW-Authenticate': challenge });
            return json(403, { message: 'User is not authorized to access this resource' }, ownCors);
          }
          authorizerContext = { principalId: result.principalId, ...result.context };
        } catch {
          return unauthorized;
        }
      }

      const event = proxyEvent({
        method: route.method,
        path: request.path,
        resource: route.path,
        pathParameters: matchRoutePath(route.path, request.path),
        // As API Gateway: the scheme the client used, whatever the client claims.
        headers: { ...headers, 'x-forwarded-proto': request.protocol ?? 'http' },
        body: request.body ?? null,
        query: request.query ?? {},
        sourceIp: request.sourceIp ?? '127.0.0.1',
        authorizer: authorizerContext,
      });
      const result = await handlers.functions[route.function](event, lambdaContext(route.function));
      const responseHeaders: Record<string, string> = {};
      const multiValueHeaders: Record<string, string[]> = {};
      for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
        multiValueHeaders[name] = values.map(String);
      }
      for (const [name, value] of Object.entries(result.headers ?? {})) {
        const multi = Object.keys(multiValueHeaders).some((key) => key.toLowerCase() === name.toLowerCase());
        if (!multi) responseHeaders[name] = String(value);
      }
      return {
        status: result.statusCode,
        headers: responseHeaders,
        ...(Object.keys(multiValueHeaders).length > 0 && { multiValueHeaders }),
        body: result.body ?? '',
      };
    },
  };
  return {
    async handle(request) {
      try {
        return await gateway.handle(request);
      } catch (error) {
        // A handler that throws instead of answering is a bug: a bare 500, never the error itself.
        console.error('local gateway: unexpected failure', error instanceof Error ? error.message : error);
        return json(500, { message: 'Internal server error' });
      }
    },
  };
}
