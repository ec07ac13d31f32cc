import { parseCookie, stringifySetCookie } from 'cookie';
import { ApiError } from '../errors.ts';
import type { TokenPair } from '../tokens/pair.ts';
import { type CorsPolicy, corsPolicyFromEnv } from './cors.ts';
import type { HttpEvent, HttpRequest, HttpResult } from './function.ts';
import { headerValue, ignorableToken, type JsonBody, optionalString, requiredString } from './input.ts';

/**
 * How a token pair travels between the service and its client (API.md, "Cookie transport (browsers)"):
 *
 * - `body` (the default): the answer's JSON carries `refreshToken` (and a login's `deviceToken`), and the
 *   client sends them back in request bodies.
 * - `cookie` (a request with `X-Token-Transport: cookie`): the refresh token travels only in an `HttpOnly`
 *   cookie that no script can read (OAuth 2.0 for Browser-Based Apps, 6.1/8.6), so an XSS bug cannot steal
 *   it; the body keeps the access token, which the client holds in memory only. The cookie is `Secure`,
 *   `SameSite=Strict`, scoped to the auth routes (`Path=<stage>/auth`), and lives `refreshExpiresIn` seconds.
 *   CSRF is closed three times over: a cross-site request carries no `SameSite=Strict` cookie; a request that
 *   carries the custom header needs a CORS preflight, which only `CORS_ORIGINS` passes; and an `Origin` that is
 *   neither the service's own nor in `CORS_ORIGINS` is refused (`403 invalid_origin`) before anything is read.
 *
 * Every endpoint that answers a token pair (`POST /auth/login`, `/auth/login/mfa`, `/auth/passkeys/login`,
 * `/auth/refresh`) and `POST /auth/logout` go through this one module, so that all of them speak both
 * transports alike. How an endpoint that answers a pair uses it:
 *
 * ```ts
 * export const handler = httpFunction(async (request) => {
 *   // First, before any work: 400 invalid_request for an unknown X-Token-Transport, 403 invalid_origin.
 *   const transport = tokenTransport(request);
 *   const pair = await loginSomehow(services, { ...fieldsOf(request.body), client: request.client });
 *   return transport.pairAnswer(pair); // 200: the body as in the contract, or without refreshToken + cookie
 * });
 * ```
 *
 * Refresh reads the presented token with `transport.refreshToken(body)` (the body's, else the cookie's with
 * the cookie transport); logout with `transport.refreshTokenIfAny(body)` and answers `transport.loggedOut()`.
 * A login that issues a device token (API.md "Known devices") reads the presented one with
 * `transport.deviceToken(body)` and answers `transport.pairAnswer({ ...pair, deviceToken }, { deviceTokenMaxAge:
 * config.deviceTokenTtl })`: in the body, or with the cookie transport in its own HttpOnly cookie on the login
 * routes (`Path=<base>/auth/login`, which covers `/auth/login/mfa`).
 */
export type TokenTransportKind = 'body' | 'cookie';

/** The request header that asks for the cookie transport. */
export const TOKEN_TRANSPORT_HEADER = 'X-Token-Transport';

/**
 * The refresh token's cookie. The `__Secure-` prefix makes browsers refuse it unless it is `Secure` and set
 * over a secure channel (RFC 6265bis 4.1.3.1), so no plain-http page of the same host can plant one. (Not
 * `__Host-`, which would force `Path=/` and send the token to every route of the host.)
 */
export const REFRESH_TOKEN_COOKIE = '__Secure-refresh_token';

/**
 * The device token's cookie (API.md "Known devices"), with the cookie transport: as HttpOnly, Secure and
 * SameSite=Strict as the refresh token's, but sent only to the login routes (`/auth/login`, `/auth/login/mfa`)
 * and living as long as the device token does.
 */
export const DEVICE_TOKEN_COOKIE = '__Secure-device_token';

/** The auth routes, under which the cookie is sent (the stage's or custom domain's base path before it). */
const AUTH_ROUTES_PATH = '/auth';
/** The login routes, under which the device token's cookie is sent. */
const LOGIN_ROUTES_PATH = '/auth/login';

/** What a login may answer besides the pair: the device token (API.md "Known devices"). */
export interface DeviceTokenAnswer {
  deviceToken?: string;
}

/** How long a device token's cookie lives, for {@link TokenTransport.pairAnswer}. */
export interface PairAnswerOptions {
  /** Seconds the device token lives (`DEVICE_TOKEN_TTL`): the `Max-Age` of its cookie. */
  deviceTokenMaxAge?: number;
}

/** A request's chosen transport, with what it reads and how it answers. */
export interface TokenTransport {
  readonly kind: TokenTransportKind;
  /**
   * The refresh token a request presents (`POST /auth/refresh`): the body's `refreshToken`; with the cookie
   * transport and none in the body, the cookie's. Errors: `400 invalid_request` when the body's field is
   * missing (body transport) or not a string; `401 invalid_token` (`WWW-Authenticate: Bearer`, no token
   * presented) with the cookie transport when there is no cookie either: the browser holds no session.
   */
  refreshToken(body: JsonBody): string;
  /** As {@link refreshToken}, but `undefined` where there is none (`POST /auth/logout` takes either token). */
  refreshTokenIfAny(body: JsonBody): string | undefined;
  /**
   * The device token a login presents (API.md "Known devices"): the body's `deviceToken` when it is a
   * non-empty string (anything else is ignored, never an error); with the cookie transport and none in the
   * body, the device token's cookie. `undefined` when there is none.
   */
  deviceToken(body: JsonBody): string | undefined;
  /**
   * The `200` answer with a token pair: the pair as the body (body transport), or the body without
   * `refreshToken` and a `Set-Cookie` with it, `Max-Age` = the pair's `refreshExpiresIn` (cookie transport).
   * A grace-window retry that answers the same pair sets the same cookie again.
   */
  pairAnswer(pair: TokenPair & DeviceTokenAnswer, options?: PairAnswerOptions): HttpResult;
  /** Logout's `204`; with the cookie transport it also clears the cookie (`Max-Age=0`). */
  loggedOut(): HttpResult;
  /**
   * Runs `work` (a refresh or a logout) and, with the cookie transport, clears the cookie on any `401` it
   * throws: the session behind the cookie is over (revoked, expired, replayed) or the cookie is not a token,
   * so the browser should stop presenting it. (A `401` cannot hide a newer cookie the browser holds: a newer
   * cookie comes from a rotation, and its predecessor is answered `200` within the grace window, or revokes
   * the session after it.)
   */
  clearingOnRefusal<T>(work: () => Promise<T>): Promise<T>;
}

let corsPolicy: CorsPolicy | undefined;
/** `CORS_ORIGINS`, read once per cold start (as `httpFunction` does). */
const allowedOrigins = () => {
  corsPolicy ??= corsPolicyFromEnv();
  return corsPolicy.allowedOrigins;
};

/**
 * The transport the request asks for, checked before the endpoint does any work: `X-Token-Transport: cookie`
 * (any case) is the cookie transport, no header (or `body`) the body transport, anything else
 * `400 invalid_request`. With the cookie transport, an `Origin` that is neither the service's own nor in
 * `CORS_ORIGINS` (a `null` origin included) is `403 invalid_origin`. A request without `Origin` is let
 * through: browsers send it on every POST (Fetch, "append a request Origin header"), so its absence means a
 * client that is not a browser, which cross-site forgery cannot drive.
 */
export function tokenTransport(request: Pick<HttpRequest, 'event'>): TokenTransport {
  const { event } = request;
  const asked = headerValue(event.headers, TOKEN_TRANSPORT_HEADER)?.trim().toLowerCase();
  if (asked === undefined || asked === '' || asked === 'body') return bodyTransport;
  if (asked !== 'cookie') {
    throw new ApiError('invalid_request', {
      message: `${TOKEN_TRANSPORT_HEADER} must be "cookie" (or absent for tokens in the body).`,
    });
  }
  const origin = headerValue(event.headers, 'origin');
  if (origin !== undefined && origin !== ownOrigin(event) && !allowedOrigins().has(origin)) {
    throw new ApiError('invalid_origin');
  }
  return cookieTransport(event);
}

const bodyTransport: TokenTransport = {
  kind: 'body',
  refreshToken: (body) => requiredString(body, 'refreshToken'),
  refreshTokenIfAny: (body) => optionalString(body, 'refreshToken'),
  deviceToken: (body) => ignorableToken(body, 'deviceToken'),
  pairAnswer: (pair) => ({ statusCode: 200, body: pair }),
  loggedOut: () => ({ statusCode: 204 }),
  clearingOnRefusal: (work) => work(),
};

function cookieTransport(event: HttpEvent): TokenTransport {
  const path = cookiePath(event);
  const fromCookie = (name: string) => {
    const header = headerValue(event.headers, 'cookie');
    const value = header === undefined ? undefined : parseCookie(header)[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const refreshTokenIfAny = (body: JsonBody) =>
    optionalString(body, 'refreshToken') ?? fromCookie(REFRESH_TOKEN_COOKIE);
  return {
    kind: 'cookie',
    refreshTokenIfAny,
    refreshToken(body) {
      const token = refreshTokenIfAny(body);
      if (token === undefined) {
        throw new ApiError('invalid_token', {
          message: 'No refresh token: send the refresh token cookie (log in first).',
          tokenPresented: false,
        });
      }
      return token;
    },
    deviceToken: (body) => ignorableToken(body, 'deviceToken') ?? fromCookie(DEVICE_TOKEN_COOKIE),
    pairAnswer(pair, options = {}) {
      const { refreshToken, deviceToken, ...rest } = pair;
      const cookies = [refreshTokenCookie(refreshToken, pair.refreshExpiresIn, path)];
      if (deviceToken !== undefined) {
        cookies.push(
          stringifySetCookie({
            name: DEVICE_TOKEN_COOKIE,
            value: deviceToken,
            // Without a lifetime given, as long as the refresh token: never a cookie that outlives its token.
            maxAge: Math.max(0, Math.floor(options.deviceTokenMaxAge ?? pair.refreshExpiresIn)),
            path: `${path.slice(0, path.length - AUTH_ROUTES_PATH.length)}${LOGIN_ROUTES_PATH}`,
            httpOnly: true,
            secure: true,
            sameSite: 'strict',
          }),
        );
      }
      return { statusCode: 200, body: rest, cookies };
    },
    loggedOut: () => ({ statusCode: 204, cookies: [refreshTokenCookie('', 0, path)] }),
    async clearingOnRefusal(work) {
      try {
        return await work();
      } catch (error) {
        // One cookie to clear: a plain header is enough, and the error renderer sends the error's headers.
        if (error instanceof ApiError && error.status === 401) {
          error.headers['Set-Cookie'] = refreshTokenCookie('', 0, path);
        }
        throw error;
      }
    },
  };
}

/** The `Set-Cookie` value of the refresh token cookie (`''` and `maxAge` 0 clear it). */
export function refreshTokenCookie(token: string, maxAge: number, path: string): string {
  return stringifySetCookie({
    name: REFRESH_TOKEN_COOKIE,
    value: token,
    maxAge: Math.max(0, Math.floor(maxAge)),
    path,
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
  });
}

/**
 * The cookie's `Path`: the auth routes under the base path the client used to reach the API. On API Gateway's
 * own URL that is the stage (`/v1/auth`), on a custom domain the mapping's base path (`/auth` for an empty
 * one): `requestContext.path` is the path as the client sent it, `path` the route's path without that prefix.
 * Where the two do not line up, the stage (`requestContext.stage`) is taken as the prefix.
 */
export function cookiePath(event: Pick<HttpEvent, 'path' | 'requestContext'>): string {
  const sent = event.requestContext?.path;
  const route = event.path ?? '';
  let prefix: string;
  if (typeof sent === 'string' && route !== '' && sent.endsWith(route)) {
    prefix = sent.slice(0, sent.length - route.length);
  } else {
    const stage = event.requestContext?.stage;
    prefix = stage ? `/${stage}` : '';
  }
  return `${prefix.replace(/\/+$/, '')}${AUTH_ROUTES_PATH}`;
}

/**
 * The service's own origin as the client reached it: `X-Forwarded-Proto` (which API Gateway, and the local
 * gateway, set) and `Host`; `undefined` without a `Host`.
 */
function ownOrigin(event: HttpEvent): string | undefined {
  const host = headerValue(event.headers, 'host');
  if (!host) return undefined;
  const scheme = headerValue(event.headers, 'x-forwarded-proto')?.split(',')[0]?.trim() || 'https';
  return `${scheme}://${host}`;
}
