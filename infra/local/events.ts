import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';

export interface ProxyEventInput {
  method: string;
  path: string;
  /** The route's resource path (with `{name}` parameters); `path` when absent. */
  resource?: string;
  pathParameters?: Record<string, string> | undefined;
  headers?: Record<string, string>;
  /** The raw body as sent; `null`/empty when there is none. */
  body?: string | null;
  query?: Record<string, string>;
  sourceIp?: string;
  /** What the authorizer returned as context (plus `principalId`), for protected routes. */
  authorizer?: Record<string, unknown> | null;
}

/** An API Gateway REST (v1 proxy) event, shaped as API Gateway sends it to a Lambda proxy integration. */
export function proxyEvent(input: ProxyEventInput): APIGatewayProxyEvent {
  const headers = input.headers ?? {};
  const query = input.query ?? {};
  return {
    resource: input.resource ?? input.path,
    path: input.path,
    httpMethod: input.method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters:
      input.pathParameters && Object.keys(input.pathParameters).length > 0 ? input.pathParameters : null,
    stageVariables: null,
    body: input.body === undefined || input.body === '' ? null : input.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      stage: 'local',
      protocol: 'HTTP/1.1',
      httpMethod: input.method,
      path: input.path,
      resourcePath: input.resource ?? input.path,
      resourceId: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      identity: { sourceIp: input.sourceIp ?? '127.0.0.1', userAgent: headers['user-agent'] ?? null },
      authorizer: input.authorizer ?? null,
    },
  } as unknown as APIGatewayProxyEvent;
}

/**
 * A Lambda context good enough for the handlers (they use none of it but the request id, and the authorizer its
 * invoked ARN's qualifier, which names step-up rules when it is invoked through such an alias).
 */
export const lambdaContext = (functionName: string, qualifier?: string): Context =>
  ({
    functionName,
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}${qualifier ? `:${qualifier}` : ''}`,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 10_000,
    callbackWaitsForEmptyEventLoop: false,
  }) as unknown as Context;
