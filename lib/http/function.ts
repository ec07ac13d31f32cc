import middy, { type MiddlewareObj } from '@middy/core';
import httpErrorHandler from '@middy/http-error-handler';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ApiError } from '../errors.ts';
import { describeError, logEvent } from '../observability/log.ts';
import { countErrorMetric, observability } from '../observability/metrics.ts';
import { corsHeaders, corsPolicyFromEnv } from './cors.ts';
import { headerValue } from './input.ts';

/** Request bodies over this many bytes are refused with `413 payload_too_large` before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An API Gateway (REST, v1 proxy) event after the shared stack: lower-case headers and a parsed body. */
export type HttpEvent = Omit<APIGatewayProxyEvent, 'body'> & { body: unknown };

/** What an HTTP function returns; the stack serialises `body` as JSON. */
export interface HttpResult {
  statusCode: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Request = middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** Refuses oversized bodies and treats an absent body as `{}` so that the JSON parser sees one. */
const bodyLimit = (): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  before: (request: Request) => {
    const { body, isBase64Encoded } = request.event;
    if (body === null || body === undefined || body === '') {
      request.event.body = '{}';
      request.event.isBase64Encoded = false;
      return;
    }
    const bytes = isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_BODY_BYTES) throw new ApiError('payload_too_large');
  },
});

/** Maps every error to a catalogue response: the one place where errors become HTTP. */
const errorsToResponses = (): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  onError: (request: Request) => {
    const error = toApiError(request.error);
    countErrorMetric(error.code);
    if (error.status >= 500)
      logEvent('error', 'request failed', { code: error.code, ...describeError(error) });
    const headers: Record<string, string> = {};
    if (error.retryAfter !== undefined)
      headers['Retry-After'] = String(Math.max(1, Math.ceil(error.retryAfter)));
    if (error.status === 401 && error.code !== 'invalid_credentials') {
      // RFC 6750: name the error only when a token was actually presented.
      headers['WWW-Authenticate'] = error.tokenPresented ? 'Bearer error="invalid_token"' : 'Bearer';
    }
    // http-error-handler (below) writes this as the response: a JSON body, only the catalogue's words.
    request.error = Object.assign(new Error(JSON.stringify({ error: error.code, message: error.message })), {
      statusCode: error.status,
      expose: true,
      headers,
    });
  },
});

/** Turns anything thrown into an `ApiError`; an unexpected error becomes a bare 500 that reveals nothing. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (status === 413) return new ApiError('payload_too_large');
  // middy's body parser: 415 (content type) and 422 (malformed JSON) are both "not JSON" here.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('invalid_request', { message: 'The request body must be valid JSON.' });
  }
  return new ApiError('internal_error', { cause: error });
}

/** Adds the headers `headersFor` gives to every answer, success or error. */
const responseHeaders = (
  headersFor: (request: Request) => Record<string, string>,
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => {
  const addHeaders = (request: Request) => {
    if (!request.response) return;
    request.response.headers = { ...request.response.headers, ...headersFor(request) };
  };
  return { after: addHeaders, onError: addHeaders };
};

/** Token responses must never be cached by a browser or a proxy (RFC 6749 section 5.1). */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * Wraps an HTTP operation in the shared middy stack: header normalisation, the 64 KiB body limit, JSON body
 * parsing, the error catalogue, security headers, `Cache-Control: no-store`, CORS for the origins in
 * `CORS_ORIGINS`, and structured logs carrying the Lambda context and the invocation's metrics (see
 * `observability.ts`).
 */
export function httpFunction(operation: (event: HttpEvent) => Promise<HttpResult>) {
  const corsPolicy = corsPolicyFromEnv();
  return (
    middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
      // First in, so its `after`/`onError` run last: the metrics an error counts are flushed with the rest.
      .use(observability())
      // A JSON API needs the headers that stop sniffing, framing and caching, not a browser page's policies.
      .use(
        httpSecurityHeaders({
          contentSecurityPolicy: { 'default-src': "'none'", 'frame-ancestors': "'none'" },
          permissionsPolicy: false,
          reportTo: false,
          reportingEndpoints: false,
          crossOriginEmbedderPolicy: false,
          originAgentCluster: false,
        }),
      )
      .use(responseHeaders(() => NO_STORE))
      // CORS headers for an allow-listed origin, errors included (see `cors.ts`).
      .use(
        responseHeaders((request) => corsHeaders(corsPolicy, headerValue(request.event.headers, 'origin'))),
      )
      .use(httpErrorHandler({ logger: false }))
      .use(httpHeaderNormalizer())
      .use(bodyLimit())
      .use(httpJsonBodyParser({ disableContentTypeCheck: true }))
      .use(errorsToResponses())
      .handler(async (event) => {
        const result = await operation(event as unknown as HttpEvent);
        return {
          statusCode: result.statusCode,
          headers: {
            ...(result.body !== undefined && { 'Content-Type': 'application/json' }),
            ...result.headers,
          },
          body: result.body === undefined ? '' : JSON.stringify(result.body),
        };
      })
  );
}

/** The `Authorization` header of a normalised event. */
export const authorizationHeader = (event: HttpEvent): string | undefined => event.headers?.authorization;
