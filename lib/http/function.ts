import middy, { type MiddlewareObj } from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { ApiError, serviceUnavailable } from '../errors.ts';
import { describeError, logEvent } from '../observability/log.ts';
import { countErrorMetric, observability } from '../observability/metrics.ts';
import { corsHeaders, corsPolicyFromEnv } from './cors.ts';
import { bearerToken, bodyObject, headerValue, type JsonBody } from './input.ts';

/** Request bodies over this many bytes are refused with `413 payload_too_large` before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An API Gateway (REST, v1 proxy) event after the shared stack: lower-case headers and a parsed body. */
export type HttpEvent = Omit<APIGatewayProxyEvent, 'body'> & { body: unknown };

/** What an HTTP function returns; the stack serialises `body` as JSON. */
export interface HttpResult {
  statusCode: number;
  body?: unknown;
  /**
   * An HTML document, sent as it is with `Content-Type: text/html; charset=utf-8`, in place of a JSON `body` (the
   * pages a mailed link opens).
   */
  html?: string;
  headers?: Record<string, string>;
  /**
   * `Set-Cookie` values, one per cookie: sent as API Gateway's `multiValueHeaders` (a header map holds one value
   * per name). Only the token transport (`token-transport.ts`) sets cookies.
   */
  cookies?: readonly string[];
}

/**
 * What an HTTP function's operation receives: the body as a JSON object (`{}` when there is none; JSON that is
 * not an object is refused with `400 invalid_request` before the operation runs), the Bearer token of the
 * `Authorization` header (RFC 6750 §2.1; `undefined` without the header, `''` for a malformed one, which never
 * verifies), and the event itself for anything else (path parameters, the request context).
 */
export interface HttpRequest {
  event: HttpEvent;
  body: JsonBody;
  bearerToken: string | undefined;
  /** Who is calling, as API Gateway saw it (for lockouts and the session list; never for authentication). */
  client: ClientInfo;
}

/** Longest `userAgent`/`ipAddress` kept (API.md, `GET /auth/sessions`): longer values are truncated. */
export const MAX_CLIENT_INFO_LENGTH = 256;

/**
 * The caller's address and user agent: API Gateway's `requestContext.identity.sourceIp` (the TCP peer it saw,
 * which a client cannot forge, unlike `X-Forwarded-For`) and the `User-Agent` header; `''` when absent, each at
 * most {@link MAX_CLIENT_INFO_LENGTH} characters.
 */
export interface ClientInfo {
  ipAddress: string;
  userAgent: string;
}

const clientInfo = (event: HttpEvent): ClientInfo => ({
  ipAddress: (event.requestContext?.identity?.sourceIp ?? '').slice(0, MAX_CLIENT_INFO_LENGTH),
  userAgent: (event.headers?.['user-agent'] ?? '').slice(0, MAX_CLIENT_INFO_LENGTH),
});

type Request = middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

/**
 * Whether a `Content-Type` names JSON: the media type `application/json` in any case, with any parameters (such
 * as `charset=utf-8`) after it (RFC 9110 §8.3.1).
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * The rules on a request body, before it is parsed: over 64 KiB is `413 payload_too_large`; one sent without
 * `Content-Type: application/json` is `415 unsupported_media_type` (API.md), so that a page on another origin
 * cannot post a login from a visitor's browser as a "simple" request (`text/plain`, a form) that skips the CORS
 * preflight. No body at all (logout with only its header) is `{}` for the JSON parser, whatever the headers say.
 */
const bodyRules = (): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  before: (request: Request) => {
    const { body, isBase64Encoded } = request.event;
    if (body === null || body === undefined || body === '') {
      request.event.body = '{}';
      request.event.isBase64Encoded = false;
      return;
    }
    const bytes = isBase64Encoded ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_BODY_BYTES) throw new ApiError('payload_too_large');
    if (!isJsonContentType(headerValue(request.event.headers, 'content-type'))) {
      throw new ApiError('unsupported_media_type');
    }
  },
});

/**
 * Renders every error as a catalogue answer: the one place where errors become HTTP. An {@link ApiError} (a
 * middy `HttpError`) carries its status and headers; anything else is mapped by {@link toApiError}.
 */
const errorResponses = (): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  onError: (request: Request) => {
    const error = toApiError(request.error);
    countErrorMetric(error.code);
    if (error.status >= 500)
      logEvent('error', 'request failed', { code: error.code, ...describeError(error) });
    request.response = {
      statusCode: error.status,
      headers: { ...error.headers, 'Content-Type': 'application/json' },
      body: JSON.stringify(error),
    };
  },
});

/** Turns anything thrown into an `ApiError`; an unexpected error becomes a bare 500 that reveals nothing. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  // The request could not be served in time: middy's early timeout (a `TimeoutError` "[AbortError]"), an aborted
  // call, the SDK's own socket timeout. Overload or a slow dependency, not a fault of the request: 503.
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return serviceUnavailable(error, TIMEOUT_RETRY_AFTER);
  const status = (error as { statusCode?: unknown })?.statusCode;
  if (status === 413) return new ApiError('payload_too_large');
  // middy's body parser: 415 (content type) and 422 (malformed JSON) are both "not JSON" here.
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError('invalid_request', { message: 'The request body must be valid JSON.' });
  }
  return new ApiError('internal_error', { cause: error });
}

/** Seconds a client is asked to wait after a request that ran out of time. */
const TIMEOUT_RETRY_AFTER = 2;

/**
 * Milliseconds before the Lambda timeout at which middy gives up on the operation and answers: enough for the
 * error middleware to render the 503 and flush logs and metrics, so that a request running into its function's
 * timeout is a 503 with Retry-After, not API Gateway's bare 502/504.
 */
export const TIMEOUT_EARLY_MS = 500;

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

/** What sets one HTTP function apart from the others. */
export interface HttpFunctionOptions {
  /**
   * Its `Content-Security-Policy` directives, for a function that serves a page, over the defaults of
   * `@middy/http-security-headers` (`false` drops one of those). Without them a JSON answer's policy allows
   * nothing: `default-src 'none'`, `frame-ancestors 'none'`, and middy's `base-uri 'none'`, `form-action 'none'`,
   * `sandbox`, `require-trusted-types-for 'script'`, `upgrade-insecure-requests` and `report-to default` (no
   * reporting endpoint is configured, so nothing is reported).
   */
  contentSecurityPolicy?: Readonly<Record<string, string | false>>;
}

/** Token responses must never be cached by a browser or a proxy (RFC 6749 section 5.1). */
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/**
 * Wraps an HTTP operation in the shared middy stack: header normalisation, the 64 KiB body limit, JSON body
 * parsing, the error catalogue, security headers, `Cache-Control: no-store`, CORS for the origins in
 * `CORS_ORIGINS`, and structured logs carrying the Lambda context and the invocation's metrics (see
 * `observability.ts`).
 */
export function httpFunction(
  operation: (request: HttpRequest) => Promise<HttpResult>,
  options: HttpFunctionOptions = {},
) {
  const corsPolicy = corsPolicyFromEnv();
  return (
    middy<APIGatewayProxyEvent, APIGatewayProxyResult>({
      timeoutEarlyInMillis: TIMEOUT_EARLY_MS,
      timeoutEarlyResponse: () => {
        throw serviceUnavailable(new Error('the function ran out of time'), TIMEOUT_RETRY_AFTER);
      },
    })
      // First in, so its `after`/`onError` run last: the metrics an error counts are flushed with the rest.
      .use(observability())
      // A JSON API needs the headers that stop sniffing, framing and caching, not a browser page's policies.
      .use(
        httpSecurityHeaders({
          // middy types the directives as strings; it leaves out any whose value is falsy (its index.js).
          contentSecurityPolicy: (options.contentSecurityPolicy as Record<string, string> | undefined) ?? {
            'default-src': "'none'",
            'frame-ancestors': "'none'",
          },
          permissionsPolicy: false,
          reportTo: false,
          reportingEndpoints: false,
          crossOriginEmbedderPolicy: false,
          originAgentCluster: false,
        }),
      )
      // An answer whose operation chose its own caching (the public discovery documents) keeps it; every other
      // answer, and every error, is no-store.
      .use(
        responseHeaders((request) =>
          request.error == null && request.response?.headers?.['Cache-Control'] ? {} : NO_STORE,
        ),
      )
      // CORS headers for an allow-listed origin, errors included (see `cors.ts`).
      .use(
        responseHeaders((request) => corsHeaders(corsPolicy, headerValue(request.event.headers, 'origin'))),
      )
      .use(httpHeaderNormalizer())
      .use(bodyRules())
      .use(httpJsonBodyParser({ disableContentTypeCheck: true }))
      .use(errorResponses())
      .handler(async (event) => {
        const httpEvent = event as unknown as HttpEvent;
        const result = await operation({
          event: httpEvent,
          // Checked only when an operation reads it: a function that takes no body ignores whatever is sent.
          get body() {
            return bodyObject(httpEvent.body);
          },
          bearerToken: bearerToken(httpEvent.headers?.authorization),
          client: clientInfo(httpEvent),
        });
        if (result.html !== undefined) {
          return {
            statusCode: result.statusCode,
            headers: { 'Content-Type': 'text/html; charset=utf-8', ...result.headers },
            body: result.html,
          };
        }
        return {
          statusCode: result.statusCode,
          headers: {
            ...(result.body !== undefined && { 'Content-Type': 'application/json' }),
            ...result.headers,
          },
          ...(result.cookies &&
            result.cookies.length > 0 && { multiValueHeaders: { 'Set-Cookie': [...result.cookies] } }),
          body: result.body === undefined ? '' : JSON.stringify(result.body),
        };
      })
  );
}
