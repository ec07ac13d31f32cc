import { join } from 'node:path';
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
  /**
   * Seconds a device token stays known after the last successful login with it (API.md "Known devices"): each
   * such login extends it. A whole-user revocation ends every device token at once, whatever this says.
   */
  deviceTokenTtl: number;
  /**
   * How mail leaves the service (`MAIL_TRANSPORT`): `ses` (Amazon SES v2), an `smtp://` or `smtps://` URL, or
   * `file` (each mail an `.eml` file in {@link Config.mailDir}).
   */
  mailTransport: string;
  /** The sender of every mail (`MAIL_FROM`), an address or `Name <address>`. */
  mailFrom: string;
  /** Where the `file` transport writes its `.eml` files: `MAIL_DIR`, else `<LOCAL_DATA_DIR>/mail`. */
  mailDir: string;
  /** The `file` transport prints one line per mail (`MAIL_ECHO`, default true; the test suite turns it off). */
  mailEcho: boolean;
  /** The SQS queue mail requests go to (`MAIL_QUEUE_URL`); absent: an in-process queue (the local server). */
  mailQueueUrl: string | undefined;
  /** The page a verification link opens (`EMAIL_VERIFY_URL`); the link adds `#token=<secret>`. */
  emailVerifyUrl: string;
  /** The page a reset link opens (`PASSWORD_RESET_URL`); the link adds `#token=<secret>`. */
  passwordResetUrl: string;
  /** Seconds a verification link lives (`EMAIL_VERIFICATION_TTL`). */
  emailVerificationTtl: number;
  /** Seconds a password-reset link lives (`PASSWORD_RESET_TTL`). */
  passwordResetTtl: number;
  /** Register needs an address, and login needs it verified (`REQUIRE_VERIFIED_EMAIL=true`). */
  requireVerifiedEmail: boolean;
  /** `TOTP_ISSUER`: the issuer name authenticator apps show beside the username (in the `otpauth://` URI). */
  totpIssuer: string;
  /** The WebAuthn relying party passkeys are bound to (API.md "Passkeys"). */
  webauthn: RelyingParty;
}

/**
 * A WebAuthn relying party (W3C WebAuthn Level 2, 5.1.4.1 and 13.4.9): `rpId` is a domain (no scheme, no port;
 * `localhost` locally, as browsers refuse IP addresses), and every origin a ceremony may run on must be that
 * domain or a subdomain of it, `https:` unless it is on `localhost`.
 */
export interface RelyingParty {
  /** `WEBAUTHN_RP_ID`: the domain every passkey is scoped to (credentials never work for another). */
  rpId: string;
  /** `WEBAUTHN_RP_NAME`: the name authenticators show the user. */
  rpName: string;
  /** `WEBAUTHN_ORIGINS`: the exact origins (comma-separated) whose ceremonies are accepted. */
  origins: string[];
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
  MAIL_TRANSPORT: 'file',
  MAIL_FROM: 'Auth service <no-reply@localhost>',
  LOCAL_DATA_DIR: '.local-data',
  EMAIL_VERIFY_URL: 'http://localhost:3000/verify-email',
  PASSWORD_RESET_URL: 'http://localhost:3000/reset-password',
  EMAIL_VERIFICATION_TTL: '86400',
  PASSWORD_RESET_TTL: '1800',
  REQUIRE_VERIFIED_EMAIL: 'false',
  MAIL_ECHO: 'true',
  TOTP_ISSUER: SERVICE_NAME,
  WEBAUTHN_RP_ID: 'localhost',
  WEBAUTHN_RP_NAME: SERVICE_NAME,
  /** The local server's origin at its default port (it sets its actual one). */
  WEBAUTHN_ORIGINS: 'http://localhost:3000',
  DEVICE_TOKEN_TTL: '15552000',
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
    mailTransport: mailTransport(env),
    mailFrom: text(env, 'MAIL_FROM'),
    mailDir: env.MAIL_DIR || join(text(env, 'LOCAL_DATA_DIR'), 'mail'),
    mailEcho: flag(env, 'MAIL_ECHO'),
    mailQueueUrl: env.MAIL_QUEUE_URL || undefined,
    emailVerifyUrl: pageUrl(env, 'EMAIL_VERIFY_URL'),
    passwordResetUrl: pageUrl(env, 'PASSWORD_RESET_URL'),
    emailVerificationTtl: positiveInt(env, 'EMAIL_VERIFICATION_TTL'),
    passwordResetTtl: positiveInt(env, 'PASSWORD_RESET_TTL'),
    requireVerifiedEmail: flag(env, 'REQUIRE_VERIFIED_EMAIL'),
    totpIssuer: text(env, 'TOTP_ISSUER'),
    webauthn: relyingParty(env),
    deviceTokenTtl: positiveInt(env, 'DEVICE_TOKEN_TTL'),
  };
  if (config.accessTokenTtl > config.sessionMaxAge || config.refreshTokenTtl > config.sessionMaxAge) {
    throw new Error('Configuration error: token lifetimes must not exceed SESSION_MAX_AGE');
  }
  if (config.refreshAudience === config.audience) {
    throw new Error("Configuration error: JWT_AUDIENCE must differ from the refresh tokens' audience");
  }
  return config;
}

function flag(env: Env, name: keyof typeof defaults): boolean {
  const value = text(env, name).trim().toLowerCase();
  if (value !== 'true' && value !== 'false')
    throw new Error(`Configuration error: ${name} must be true or false (got "${value}")`);
  return value === 'true';
}

/** `MAIL_TRANSPORT`: `ses` on AWS (where a local file would be lost), else `file` unless set. */
function mailTransport(env: Env): string {
  const value = env.MAIL_TRANSPORT ?? (env.AWS_LAMBDA_FUNCTION_NAME ? 'ses' : defaults.MAIL_TRANSPORT);
  if (value === 'ses' || value === 'file' || /^smtps?:\/\/[^\s]+$/.test(value)) return value;
  throw new Error('Configuration error: MAIL_TRANSPORT must be ses, file or an smtp:// or smtps:// URL');
}

/** A page URL a link opens: absolute http(s), the token is added as a query parameter. */
function pageUrl(env: Env, name: keyof typeof defaults): string {
  const value = text(env, name);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:'))
    throw new Error(`Configuration error: ${name} must be an http(s) URL (got "${value}")`);
  return value;
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

/** A domain name as an RP ID: lower-case labels of letters, digits and hyphens, no IP address. */
const RP_ID_PATTERN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The relying party from `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and `WEBAUTHN_ORIGINS`, checked as browsers would
 * (WebAuthn Level 2, 5.1.3 step 8 and 5.1.4.1 step 7): an origin whose host is not the RP ID or a subdomain of
 * it, or that is not `https:` (but for `localhost`), could never complete a ceremony, so it stops the cold start.
 */
function relyingParty(env: Env): RelyingParty {
  const rpId = text(env, 'WEBAUTHN_RP_ID').trim().toLowerCase();
  if (!RP_ID_PATTERN.test(rpId)) {
    throw new Error(
      `Configuration error: WEBAUTHN_RP_ID must be a domain name such as example.com or localhost (no scheme, port or IP address; got "${rpId}")`,
    );
  }
  const origins = text(env, 'WEBAUTHN_ORIGINS')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    const local = url?.hostname === 'localhost' || url?.hostname.endsWith('.localhost');
    if (
      !url ||
      url.origin !== origin ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && local)) ||
      !(url.hostname === rpId || url.hostname.endsWith(`.${rpId}`))
    ) {
      throw new Error(
        `Configuration error: WEBAUTHN_ORIGINS: "${origin}" must be an exact origin (https:, or http: on localhost) on ${rpId} or a subdomain of it`,
      );
    }
  }
  if (origins.length === 0) throw new Error('Configuration error: WEBAUTHN_ORIGINS must name an origin');
  return { rpId, rpName: text(env, 'WEBAUTHN_RP_NAME').trim(), origins };
}

/** Current time in whole epoch seconds: the unit of every JWT claim and every stored timestamp. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
