import { defaults, loadConfig } from '../../lib/config.ts';
import { isSigningAlgorithm, type SigningAlgorithm, signingAlgorithms } from '../../lib/tokens/keyring.ts';

/**
 * What a deployer may choose, from CDK context (`cdk.json` or `-c name=value`). Secrets are never settings:
 * the signing key lives in SSM and only its parameter's name is here.
 */
export interface StackSettings {
  /** DynamoDB deletion protection (and RETAIN on stack deletion). Default on; `-c deletionProtection=false` for a scratch stack. */
  deletionProtection: boolean;
  /** Seconds API Gateway caches an authorizer answer per token. Default 0: a logout takes effect at once. */
  authorizerCacheTtlSeconds: number;
  /**
   * Exact browser origins allowed by CORS, with credentials (passed to the functions as `CORS_ORIGINS`); empty:
   * CORS off. Also the origins besides the API's own that may use the cookie transport.
   */
  corsOrigins: string[];
  /**
   * The host name browsers reach the API under when you map a custom domain to its stage (an API Gateway
   * custom domain and base path mapping, made outside this stack), e.g. `auth.example.com`.
   *
   * The cookie transport (`X-Token-Transport: cookie`) keeps the refresh token in a `SameSite=Strict` cookie,
   * which browsers send only when the page and the API are on the same site (the same registrable domain:
   * `https://app.example.com` and `auth.example.com`). The stage's own URL (`*.execute-api.amazonaws.com`) is
   * on another site than any app, so a browser app on `corsOrigins` needs the API under a custom domain on its
   * own site to use the cookie transport; the synth warns when `corsOrigins` are set without one, or with one
   * on another site than an origin. `SameSite=None; Partitioned` (a cross-site cookie) is deliberately not
   * offered: browsers that block third-party cookies (Safari, Firefox's strict mode) would drop it, and
   * `Strict` is the CSRF defence that needs no cooperation from the app. The body transport works from any
   * allowed origin either way.
   */
  apiDomainName: string | undefined;
  /** Name of the SSM SecureString holding the signing key ring (created by `npm run secret:init`). */
  signingKeyParameterName: string;
  /** ARN of a customer-managed KMS key encrypting that parameter; unset for SSM's AWS-managed key. */
  signingKeyKmsKeyArn: string | undefined;
  /**
   * `iss` of the tokens. With HS256 any name (default `auth-service`). With ES256/RS256 an https URL where
   * `/.well-known/openid-configuration` is served, such as a custom domain mapped to the stage; left at its
   * default, the issuer is the stage URL itself (`https://<api>.execute-api.<region>.amazonaws.com/v1`).
   */
  jwtIssuer: string;
  jwtAudience: string;
  /** `SIGNING_ALG` of the functions: HS256 (default), ES256 or RS256; the key ring in SSM must be of it. */
  signingAlg: SigningAlgorithm;
  /** Retention of the functions' and the access logs' log groups. */
  logRetentionDays: number;
  /** Stage-wide steady rate (requests/second) and burst. */
  apiRateLimit: number;
  apiBurstLimit: number;
  /** The tighter rate and burst of the routes that hash a password: login, register, password, account. */
  passwordRouteRateLimit: number;
  passwordRouteBurstLimit: number;
  /** An existing SNS topic that the alarms notify; unset: alarms without actions (visible in the console). */
  alarmTopicArn: string | undefined;
  /**
   * The sender of the service's mail (`MAIL_FROM`): an address, or `Name <address>`, of an identity verified in
   * Amazon SES. The mailer may send from that address and nothing else.
   */
  mailFrom: string;
  /** The SES identity the sender belongs to: its domain (default) or the address itself. */
  mailIdentity: string | undefined;
  /** The page a verification link opens (`EMAIL_VERIFY_URL`): your own front end's; unset, the stack's own. */
  emailVerifyUrl: string | undefined;
  /** The page a reset link opens (`PASSWORD_RESET_URL`): your own front end's; unset, the stack's own. */
  passwordResetUrl: string | undefined;
  /**
   * The exact origins of the pages that register and use passkeys (`WEBAUTHN_ORIGINS`), such as
   * `https://app.example.com`. Default: those of `corsOrigins` (the pages allowed to call the API) on the RP ID.
   * None at all: passkeys work only for the local defaults, i.e. not on AWS.
   */
  webauthnOrigins: string[];
  /**
   * The relying party ID passkeys are bound to (`WEBAUTHN_RP_ID`): your site's domain, which every origin above
   * must be or be a subdomain of. A passkey works for that domain and its subdomains only, for ever: choose the
   * registrable domain you will keep (`example.com` for pages on `app.example.com` and an API on
   * `auth.example.com`). Default: the host of the first of `webauthnOrigins` (or else of `corsOrigins`).
   */
  webauthnRpId: string | undefined;
  /** The service name authenticators show beside a passkey (`WEBAUTHN_RP_NAME`). Default `auth-service`. */
  webauthnRpName: string;
}

export const defaultSettings: StackSettings = {
  deletionProtection: true,
  authorizerCacheTtlSeconds: 0,
  corsOrigins: [],
  apiDomainName: undefined,
  signingKeyParameterName: defaults.JWT_SECRET_PARAM,
  signingKeyKmsKeyArn: undefined,
  jwtIssuer: defaults.JWT_ISSUER,
  jwtAudience: defaults.JWT_AUDIENCE,
  signingAlg: 'HS256',
  logRetentionDays: 30,
  apiRateLimit: 100,
  apiBurstLimit: 200,
  passwordRouteRateLimit: 10,
  passwordRouteBurstLimit: 20,
  alarmTopicArn: undefined,
  mailFrom: 'no-reply@example.com',
  mailIdentity: undefined,
  emailVerifyUrl: undefined,
  passwordResetUrl: undefined,
  webauthnOrigins: [],
  webauthnRpId: undefined,
  webauthnRpName: defaults.WEBAUTHN_RP_NAME,
};

/** The address inside `MAIL_FROM` (`Name <a@b>` or `a@b`), or `undefined` when there is none. */
export function senderAddress(mailFrom: string): string | undefined {
  const address = (/<([^<>\s]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom).trim().toLowerCase();
  return /^[^@\s]+@[^@\s]+$/.test(address) ? address : undefined;
}

function pageUrl(lookup: Lookup, key: string): string | undefined {
  const value = text(lookup, key, undefined);
  if (value !== undefined && !/^https:\/\/[^\s]+$/.test(value))
    throw new Error(`Context ${key} must be an https URL (got ${JSON.stringify(value)})`);
  return value;
}

/** The retention periods CloudWatch Logs accepts. */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

type Lookup = (key: string) => unknown;

function bool(lookup: Lookup, key: string, fallback: boolean): boolean {
  const raw = lookup(key);
  if (raw === undefined) return fallback;
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new Error(`Context ${key} must be true or false (got ${JSON.stringify(raw)})`);
}

function int(lookup: Lookup, key: string, fallback: number, min: number, max: number): number {
  const raw = lookup(key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `Context ${key} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

function text(lookup: Lookup, key: string, fallback: string | undefined): string | undefined {
  const raw = lookup(key);
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string') throw new Error(`Context ${key} must be a string`);
  return raw;
}

/** Comma-separated (or a JSON array in cdk.json) exact origins such as `https://app.example.com`. */
function origins(lookup: Lookup, key: string): string[] {
  const raw = lookup(key);
  if (raw === undefined || raw === '') return [];
  const list = Array.isArray(raw) ? raw : String(raw).split(',');
  return list.map((origin) => {
    const value = String(origin).trim();
    // An exact origin: scheme, host and optional port, nothing else. A wildcard would let any site call us.
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(value)) {
      throw new Error(`Context ${key}: "${value}" is not an exact origin like https://app.example.com`);
    }
    return value;
  });
}

/** Reads and validates the settings from CDK context; anything malformed stops the synth with a clear message. */
export function settingsFromContext(lookup: Lookup): StackSettings {
  const d = defaultSettings;
  const logRetentionDays = int(lookup, 'logRetentionDays', d.logRetentionDays, 1, 3653);
  if (!RETENTION_DAYS.includes(logRetentionDays)) {
    throw new Error(`Context logRetentionDays must be one of ${RETENTION_DAYS.join(', ')}`);
  }
  const parameterName = text(lookup, 'signingKeyParameterName', d.signingKeyParameterName) as string;
  if (!/^\/[A-Za-z0-9_.\-/]+$/.test(parameterName)) {
    throw new Error(
      'Context signingKeyParameterName must be a hierarchical SSM name like /auth-service/keys',
    );
  }
  const signingAlg = text(lookup, 'signingAlg', d.signingAlg) as string;
  if (!isSigningAlgorithm(signingAlg)) {
    throw new Error(`Context signingAlg must be one of ${signingAlgorithms.join(', ')}`);
  }
  const jwtIssuer = text(lookup, 'jwtIssuer', d.jwtIssuer) as string;
  if (signingAlg !== 'HS256' && jwtIssuer !== d.jwtIssuer && !/^https:\/\/[^?#]*[^/?#]$/.test(jwtIssuer)) {
    throw new Error(
      `Context jwtIssuer must be an https URL without a trailing slash with signingAlg ${signingAlg} (verifiers fetch <issuer>/.well-known/openid-configuration); leave it unset for the stage URL`,
    );
  }
  const mailFrom = text(lookup, 'mailFrom', d.mailFrom) as string;
  if (!senderAddress(mailFrom))
    throw new Error(
      `Context mailFrom must be an address or "Name <address>" (got ${JSON.stringify(mailFrom)})`,
    );
  const corsOrigins = origins(lookup, 'corsOrigins');
  const webauthnOrigins = origins(lookup, 'webauthnOrigins');
  const firstHost = (list: string[]) => (list[0] ? new URL(list[0]).hostname : undefined);
  const webauthnRpId = text(lookup, 'webauthnRpId', firstHost(webauthnOrigins) ?? firstHost(corsOrigins));
  // Without origins of their own, passkeys work on the CORS origins that can use the RP ID (the others could
  // never complete a ceremony; they stay CORS origins all the same).
  const passkeyOrigins =
    webauthnOrigins.length > 0
      ? webauthnOrigins
      : corsOrigins.filter((origin) => {
          const host = new URL(origin).hostname;
          return host === webauthnRpId || host.endsWith(`.${webauthnRpId}`);
        });
  if (webauthnRpId !== undefined) {
    // The same checks the functions make at cold start (lib/config.ts): better a failed synth than a deployed
    // stack whose passkeys can never work.
    try {
      loadConfig({ WEBAUTHN_RP_ID: webauthnRpId, WEBAUTHN_ORIGINS: passkeyOrigins.join(',') || undefined });
    } catch (error) {
      throw new Error(`Context webauthnRpId/webauthnOrigins: ${(error as Error).message}`);
    }
  }
  const apiDomainName = text(lookup, 'apiDomainName', d.apiDomainName);
  if (
    apiDomainName !== undefined &&
    !/^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/.test(apiDomainName)
  ) {
    throw new Error(
      `Context apiDomainName must be a host name like auth.example.com (got ${JSON.stringify(apiDomainName)})`,
    );
  }
  return {
    deletionProtection: bool(lookup, 'deletionProtection', d.deletionProtection),
    // API Gateway accepts 0-3600 seconds.
    authorizerCacheTtlSeconds: int(lookup, 'authorizerCacheTtlSeconds', d.authorizerCacheTtlSeconds, 0, 3600),
    corsOrigins,
    apiDomainName,
    signingKeyParameterName: parameterName,
    signingKeyKmsKeyArn: text(lookup, 'signingKeyKmsKeyArn', d.signingKeyKmsKeyArn),
    jwtIssuer,
    jwtAudience: text(lookup, 'jwtAudience', d.jwtAudience) as string,
    signingAlg,
    logRetentionDays,
    apiRateLimit: int(lookup, 'apiRateLimit', d.apiRateLimit, 1, 10_000),
    apiBurstLimit: int(lookup, 'apiBurstLimit', d.apiBurstLimit, 1, 5_000),
    passwordRouteRateLimit: int(lookup, 'passwordRouteRateLimit', d.passwordRouteRateLimit, 1, 10_000),
    passwordRouteBurstLimit: int(lookup, 'passwordRouteBurstLimit', d.passwordRouteBurstLimit, 1, 5_000),
    alarmTopicArn: text(lookup, 'alarmTopicArn', d.alarmTopicArn),
    mailFrom,
    mailIdentity: text(lookup, 'mailIdentity', d.mailIdentity),
    emailVerifyUrl: pageUrl(lookup, 'emailVerifyUrl'),
    passwordResetUrl: pageUrl(lookup, 'passwordResetUrl'),
    webauthnOrigins: passkeyOrigins,
    webauthnRpId,
    webauthnRpName: text(lookup, 'webauthnRpName', d.webauthnRpName) as string,
  };
}

/**
 * The settings of a construct's props, each optional and checked exactly as the same context value would be
 * (a wildcard origin, an out-of-range TTL or a retention CloudWatch does not offer stop the synth).
 */
export function resolveSettings(props: Partial<StackSettings> = {}): StackSettings {
  return settingsFromContext((key) => (props as Record<string, unknown>)[key]);
}
