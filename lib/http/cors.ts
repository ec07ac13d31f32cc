/**
 * CORS for browsers on other origins: an exact allow-list of origins (`CORS_ORIGINS`, comma-separated; empty
 * or unset means no CORS at all). An allowed origin is echoed back exactly, never `*`, with
 * `Access-Control-Allow-Credentials: true`: the cookie transport (`token-transport.ts`) keeps the refresh token
 * in an HttpOnly cookie, which a browser sends cross-origin (`credentials: 'include'`) and lets the page read
 * the answer only with that header (Fetch, "CORS check"). Credentials go to listed origins only; an origin not
 * on the list gets no CORS header at all.
 *
 * Written here rather than with `@middy/http-cors`: that middleware adds `Access-Control-Expose-Headers` (and,
 * with one allowed origin, omits `Vary: Origin`) whatever the request's origin, and lower-cases and wildcards
 * origins, where this contract gives a disallowed origin no CORS header at all and compares exactly; and this
 * one policy also serves the local server's own answers (preflights, the authorizer's 401, 404), which stand in
 * for API Gateway's and are not middy handlers.
 */
export interface CorsPolicy {
  readonly allowedOrigins: ReadonlySet<string>;
}

/**
 * Request headers a cross-origin caller may send: JSON bodies, bearer tokens, and the cookie transport's
 * `X-Token-Transport`.
 */
export const ALLOWED_REQUEST_HEADERS: readonly string[] = [
  'Authorization',
  'Content-Type',
  'X-Token-Transport',
];
/**
 * Response headers a cross-origin client must be able to read (back-off and the RFC 6750 challenge): on the
 * functions' answers here, and on API Gateway's own answers in the AWS stack (`infra/cdk/api.ts`).
 */
export const EXPOSED_HEADERS = 'Retry-After, WWW-Authenticate';
/** Seconds a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE = '600';

/**
 * Parses `CORS_ORIGINS`. Each entry must be a bare origin (`scheme://host[:port]`, no path or trailing
 * slash), compared exactly; anything else is refused at start-up rather than silently never matching.
 */
export function parseCorsOrigins(value: string | undefined): CorsPolicy {
  const origins = new Set<string>();
  for (const entry of (value ?? '').split(',')) {
    const origin = entry.trim();
    if (origin === '') continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin === 'null' || parsed.origin !== origin) {
      throw new Error(
        `Configuration error: CORS_ORIGINS entries must be origins like https://app.example.com (got "${origin}")`,
      );
    }
    origins.add(origin);
  }
  return { allowedOrigins: origins };
}

/** The policy from the environment, read once (at cold start). */
export const corsPolicyFromEnv = (env: Record<string, string | undefined> = process.env): CorsPolicy =>
  parseCorsOrigins(env.CORS_ORIGINS);

/**
 * Headers for an actual (non-preflight) response, success or error: the allowed origin echoed back, or none
 * at all for an origin not on the list. `Vary: Origin` whenever the answer depends on the origin, so that a
 * cache never serves one origin's headers to another.
 */
export function corsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  if (policy.allowedOrigins.size === 0) return {};
  if (origin === undefined || !policy.allowedOrigins.has(origin)) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Credentials': 'true',
    'Access-Control-Expose-Headers': EXPOSED_HEADERS,
    Vary: 'Origin',
  };
}

/** Headers for a preflight (`OPTIONS`) answer on a route that takes `methods`. */
export function preflightHeaders(
  policy: CorsPolicy,
  origin: string | undefined,
  methods: readonly string[],
): Record<string, string> {
  const headers = corsHeaders(policy, origin);
  if (!headers['Access-Control-Allow-Origin']) return headers;
  return {
    ...headers,
    'Access-Control-Allow-Methods': [...methods, 'OPTIONS'].join(', '),
    'Access-Control-Allow-Headers': ALLOWED_REQUEST_HEADERS.join(', '),
    'Access-Control-Max-Age': PREFLIGHT_MAX_AGE,
  };
}
