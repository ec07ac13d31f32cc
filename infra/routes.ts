/**
 * The API's routes and the functions behind them: the one table that both the local server and the AWS stack
 * are built from, so the two cannot drift apart.
 *
 * To add a route: its entry point `functions/<name>.ts` (exporting `handler`); the name in `functionNames`;
 * one line in `routes`; and the function's profile (size and exact grants) in `functionProfiles` of
 * infra/cdk/functions.ts, which the type checker then asks for. The stack, its IAM roles, alarms and the local
 * server follow from those.
 */
import type { StepUpRules } from '../lib/tokens/step-up.ts';

export const functionNames = [
  'register',
  'login',
  'login-mfa',
  'login-mfa-options',
  'refresh',
  'logout',
  'logout-all',
  'list-sessions',
  'revoke-session',
  'change-password',
  'delete-account',
  'get-account',
  'verify-email',
  'change-email',
  'resend-verification',
  'forgot-password',
  'reset-password',
  'totp-enrol',
  'totp-confirm',
  'totp-disable',
  'recovery-codes',
  'passkey-register-options',
  'register-passkey',
  'list-passkeys',
  'rename-passkey',
  'delete-passkey',
  'passkey-login-options',
  'passkey-login',
  'me',
  'discovery',
  'link-pages',
  'authorizer',
  'mailer',
] as const;
export type FunctionName = (typeof functionNames)[number];

export interface Route {
  /** `HEAD` only where a `GET` of the path answers the same without a body (API Gateway adds neither for you). */
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE';
  /** The path as API Gateway's resource path: `{name}` segments are path parameters. */
  path: string;
  function: Exclude<FunctionName, 'authorizer' | 'mailer'>;
  /** Guarded by the authorizer, as API Gateway does it. */
  authorized: boolean;
  /**
   * Step-up (RFC 9470, API.md): what an authorized route demands of the token's login beyond a live session.
   * The stack guards it with `authorizerFor(api, stepUp)`, the local gateway the same way.
   */
  stepUp?: StepUpRules;
}

export const routes: readonly Route[] = [
  { method: 'POST', path: '/auth/register', function: 'register', authorized: false },
  { method: 'POST', path: '/auth/login', function: 'login', authorized: false },
  { method: 'POST', path: '/auth/login/mfa', function: 'login-mfa', authorized: false },
  { method: 'POST', path: '/auth/login/mfa/options', function: 'login-mfa-options', authorized: false },
  { method: 'POST', path: '/auth/refresh', function: 'refresh', authorized: false },
  { method: 'POST', path: '/auth/logout', function: 'logout', authorized: false },
  { method: 'POST', path: '/auth/logout-all', function: 'logout-all', authorized: false },
  { method: 'GET', path: '/auth/sessions', function: 'list-sessions', authorized: false },
  { method: 'DELETE', path: '/auth/sessions/{sessionId}', function: 'revoke-session', authorized: false },
  { method: 'POST', path: '/auth/password', function: 'change-password', authorized: false },
  { method: 'DELETE', path: '/auth/account', function: 'delete-account', authorized: false },
  { method: 'GET', path: '/auth/account', function: 'get-account', authorized: false },
  { method: 'POST', path: '/auth/email/verify', function: 'verify-email', authorized: false },
  { method: 'POST', path: '/auth/email', function: 'change-email', authorized: false },
  { method: 'POST', path: '/auth/email/resend', function: 'resend-verification', authorized: false },
  { method: 'POST', path: '/auth/password/forgot', function: 'forgot-password', authorized: false },
  { method: 'POST', path: '/auth/password/reset', function: 'reset-password', authorized: false },
  { method: 'POST', path: '/auth/mfa/totp', function: 'totp-enrol', authorized: false },
  { method: 'POST', path: '/auth/mfa/totp/confirm', function: 'totp-confirm', authorized: false },
  { method: 'DELETE', path: '/auth/mfa/totp', function: 'totp-disable', authorized: false },
  { method: 'POST', path: '/auth/mfa/recovery-codes', function: 'recovery-codes', authorized: false },
  {
    method: 'POST',
    path: '/auth/passkeys/register/options',
    function: 'passkey-register-options',
    authorized: false,
  },
  { method: 'POST', path: '/auth/passkeys/register', function: 'register-passkey', authorized: false },
  { method: 'GET', path: '/auth/passkeys', function: 'list-passkeys', authorized: false },
  { method: 'PATCH', path: '/auth/passkeys/{passkeyId}', function: 'rename-passkey', authorized: false },
  { method: 'DELETE', path: '/auth/passkeys/{passkeyId}', function: 'delete-passkey', authorized: false },
  {
    method: 'POST',
    path: '/auth/passkeys/login/options',
    function: 'passkey-login-options',
    authorized: false,
  },
  { method: 'POST', path: '/auth/passkeys/login', function: 'passkey-login', authorized: false },
  { method: 'GET', path: '/me', function: 'me', authorized: true },
  // The example of a step-up route: answers as /me, for a login with a second factor in the last 15 minutes.
  {
    method: 'GET',
    path: '/me/sensitive',
    function: 'me',
    authorized: true,
    stepUp: { requireMfa: true, maxAuthAge: 900 },
  },
  // Public by nature (OpenID Connect Discovery 1.0; RFC 7517): no authorizer, ever.
  { method: 'GET', path: '/.well-known/openid-configuration', function: 'discovery', authorized: false },
  { method: 'GET', path: '/.well-known/jwks.json', function: 'discovery', authorized: false },
  // The pages a mailed link opens (EMAIL_VERIFY_URL, PASSWORD_RESET_URL by default). HEAD too: mail scanners
  // probe links with it, and it must answer as a GET does, consuming nothing.
  { method: 'GET', path: '/verify-email', function: 'link-pages', authorized: false },
  { method: 'HEAD', path: '/verify-email', function: 'link-pages', authorized: false },
  { method: 'GET', path: '/reset-password', function: 'link-pages', authorized: false },
  { method: 'HEAD', path: '/reset-password', function: 'link-pages', authorized: false },
];

/**
 * Matches a request path against a route's path: the path parameters when it matches (`{}` for a path without
 * any), else `undefined`. A parameter is one non-empty segment, URL-decoded.
 */
export function matchRoutePath(routePath: string, requestPath: string): Record<string, string> | undefined {
  const wanted = routePath.split('/');
  const actual = requestPath.split('/');
  if (wanted.length !== actual.length) return undefined;
  const parameters: Record<string, string> = {};
  for (const [i, segment] of wanted.entries()) {
    const value = actual[i] ?? '';
    const name = /^\{(\w+)\}$/.exec(segment)?.[1];
    if (name === undefined) {
      if (segment !== value) return undefined;
    } else {
      if (value === '') return undefined;
      try {
        parameters[name] = decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return parameters;
}
