import { SERVICE_NAME } from './observability/names.ts';
import { isSigningAlgorithm, type SigningAlgorithm, signingAlgorithms } from './tokens/keyring.ts';

/** Service configuration, parsed and validated once at cold start from the environment. */
export interface Config {
  tableName: string;
  /** SSM parameter name holding the signing key (ring); a SecureString. */
  jwtSecretParam: string;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionMaxAge: number;
  refreshReuseGrace: number;
  /** `iss` of every token; with ES256/RS256 a URL, under which the discovery document is served. */
  issuer: string;
  /** `aud` of access tokens. */
  audience: string;
  /** `aud` of refresh tokens: `<issuer>/auth/refresh`, the endpoint they are for; never equal to `audience`. */
  refreshAudience: string;
  /** `client_id` of access tokens (RFC 9068, 2.2). */
  clientId: string;
  /** The JWS algorithm every token is signed with, and the only one accepted (`SIGNING_ALG`). */
  signingAlg: SigningAlgorithm;
  /** Seconds the key ring read from SSM is cached before it is read again (rotation propagates within it). */
  keyCacheMaxAge: number;
  /**
   * Failed password checks for one username (from one address, or concurrently from any) before it answers
   * `429 too_many_attempts` (API.md "Brute force").
   */
  loginMaxFailures: number;
  /** Seconds of the first lock; each further failure doubles it, up to `loginLockoutMax`. */
  loginLockoutBase: number;
  loginLockoutMax: number;
  /** Seconds after the last failure at which a failure count starts again from zero. */
  loginFailureWindow: number;
  /** Failed password checks from one client address, over all usernames, per `loginFailureWindow` before 429. */
  loginAddressMaxFailures: number;
  /** `TOTP_ISSUER`: the issuer name authenticator apps show beside the username (in the `otpauth://` URI). */
  totpIssuer: string;
}

export const defaults = {
  TABLE_NAME: 'auth-local',
  JWT_SECRET_PARAM: '/auth-service/jwt-signing-keys',
  ACCESS_TOKEN_TTL: '600',
  REFRESH_TOKEN_TTL: '86400',
  SESSION_MAX_AGE: '2592000',
  REFRESH_REUSE_GRACE: '10',
  JWT_ISSUER: 'auth-service',
  JWT_AUDIENCE: 'auth-service-api',
  JWT_CLIENT_ID: 'auth-service-client',
  SIGNING_ALG: 'HS256',
  KEY_CACHE_MAX_AGE: '300',
  LOGIN_MAX_FAILURES: '5',
  LOGIN_LOCKOUT_BASE: '30',
  LOGIN_LOCKOUT_MAX: '900',
  LOGIN_FAILURE_WINDOW: '900',
  LOGIN_ADDRESS_MAX_FAILURES: '100',
  TOTP_ISSUER: SERVICE_NAME,
} as const;

type Env = Record<string, string | undefined>;

function positiveInt(env: Env, name: keyof typeof defaults, min = 1): number {
  const raw = env[name] ?? defaults[name];
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`Configuration error: ${name} must be a whole number >= ${min} (got "${raw}")`);
  }
  return value;
}

function text(env: Env, name: keyof typeof defaults): string {
  const value = env[name] ?? defaults[name];
  if (value.trim() === '') throw new Error(`Configuration error: ${name} must not be empty`);
  return value;
}

/** Parses and validates the configuration; throws a clear error at start-up rather than misbehaving later. */
export function loadConfig(env: Env = process.env): Config {
  if (env.AWS_LAMBDA_FUNCTION_NAME) {
    // On AWS the local defaults would silently point at the wrong table or parameter.
    for (const name of ['TABLE_NAME', 'JWT_SECRET_PARAM'] as const) {
      if (!env[name]) throw new Error(`Configuration error: ${name} is required on AWS Lambda`);
    }
  }
  const signingAlg = text(env, 'SIGNING_ALG');
  if (!isSigningAlgorithm(signingAlg)) {
    throw new Error(`Configuration error: SIGNING_ALG must be one of ${signingAlgorithms.join(', ')}`);
  }
  const issuer = text(env, 'JWT_ISSUER');
  if (signingAlg !== 'HS256') assertIssuerUrl(issuer);
  const config: Config = {
    tableName: text(env, 'TABLE_NAME'),
    jwtSecretParam: text(env, 'JWT_SECRET_PARAM'),
    accessTokenTtl: positiveInt(env, 'ACCESS_TOKEN_TTL'),
    refreshTokenTtl: positiveInt(env, 'REFRESH_TOKEN_TTL'),
    sessionMaxAge: positiveInt(env, 'SESSION_MAX_AGE'),
    refreshReuseGrace: positiveInt(env, 'REFRESH_REUSE_GRACE', 0),
    issuer,
    audience: text(env, 'JWT_AUDIENCE'),
    refreshAudience: `${issuer}/auth/refresh`,
    clientId: text(env, 'JWT_CLIENT_ID'),
    signingAlg,
    keyCacheMaxAge: positiveInt(env, 'KEY_CACHE_MAX_AGE', 0),
    loginMaxFailures: positiveInt(env, 'LOGIN_MAX_FAILURES'),
    loginLockoutBase: positiveInt(env, 'LOGIN_LOCKOUT_BASE'),
    loginLockoutMax: positiveInt(env, 'LOGIN_LOCKOUT_MAX'),
    loginFailureWindow: positiveInt(env, 'LOGIN_FAILURE_WINDOW'),
    loginAddressMaxFailures: positiveInt(env, 'LOGIN_ADDRESS_MAX_FAILURES'),
    totpIssuer: text(env, 'TOTP_ISSUER'),
  };
  if (config.accessTokenTtl > config.sessionMaxAge || config.refreshTokenTtl > config.sessionMaxAge) {
    throw new Error('Configuration error: token lifetimes must not exceed SESSION_MAX_AGE');
  }
  if (config.refreshAudience === config.audience) {
    throw new Error("Configuration error: JWT_AUDIENCE must differ from the refresh tokens' audience");
  }
  return config;
}

/**
 * With public keys, the issuer is where verifiers find them: `issuer + "/.well-known/openid-configuration"`
 * (OpenID Connect Discovery 1.0, 4), so it must be an absolute http(s) URL without query, fragment or
 * trailing slash.
 */
function assertIssuerUrl(issuer: string): void {
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.search !== '' ||
    url.hash !== '' ||
    issuer.endsWith('/')
  ) {
    throw new Error(
      `Configuration error: with SIGNING_ALG ES256 or RS256, JWT_ISSUER must be an http(s) URL without query, fragment or trailing slash (got "${issuer}")`,
    );
  }
}

/** Current time in whole epoch seconds: the unit of every JWT claim and every stored timestamp. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
