/**
 * The error codes of the HTTP contract (docs/API.md). Kept here rather than imported from `lib/` so that the
 * client has no dependency on the service's code; a type test keeps the two lists identical.
 */
export type ApiErrorCode =
  | 'invalid_request'
  | 'weak_password'
  | 'invalid_link'
  | 'invalid_credentials'
  | 'invalid_token'
  | 'token_expired'
  | 'session_revoked'
  | 'refresh_token_reused'
  | 'mfa_required'
  | 'invalid_mfa_code'
  | 'account_disabled'
  | 'email_not_verified'
  | 'invalid_origin'
  | 'not_found'
  | 'method_not_allowed'
  | 'username_taken'
  | 'email_taken'
  | 'mfa_already_enabled'
  | 'mfa_not_enabled'
  | 'refresh_conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'too_many_attempts'
  | 'internal_error'
  | 'service_unavailable';

/**
 * Codes only the client produces: `signed_out` (no usable session: never signed in, logged out, or the
 * session ended), `unauthorized` / `forbidden` (the gateway authorizer's own 401/403, which carry no code),
 * `network_error` (no HTTP answer at all), `unexpected_response` (an answer outside the contract),
 * `passkeys_unavailable` (a passkey method of a client created without the browser's ceremonies) and
 * `passkey_ceremony_failed` (the browser did not create or use a passkey: cancelled, none, timed out).
 */
export type ClientErrorCode =
  | 'signed_out'
  | 'unauthorized'
  | 'forbidden'
  | 'network_error'
  | 'unexpected_response'
  | 'passkeys_unavailable'
  | 'passkey_ceremony_failed';

export type AuthErrorCode = ApiErrorCode | ClientErrorCode;

/** Why a session ended, as reported by the `signedOut` event and {@link SignedOutError}. */
export type SignOutReason =
  | 'logged_out'
  | 'logged_out_everywhere'
  | 'account_deleted'
  | 'refresh_token_reused'
  | 'session_revoked'
  | 'token_expired'
  | 'invalid_token'
  | 'cleared_elsewhere'
  | 'no_session';

const apiErrorCodes: ReadonlySet<string> = new Set<ApiErrorCode>([
  'invalid_request',
  'weak_password',
  'invalid_link',
  'invalid_credentials',
  'invalid_token',
  'token_expired',
  'session_revoked',
  'refresh_token_reused',
  'mfa_required',
  'invalid_mfa_code',
  'account_disabled',
  'email_not_verified',
  'invalid_origin',
  'not_found',
  'method_not_allowed',
  'username_taken',
  'email_taken',
  'mfa_already_enabled',
  'mfa_not_enabled',
  'refresh_conflict',
  'payload_too_large',
  'unsupported_media_type',
  'too_many_attempts',
  'internal_error',
  'service_unavailable',
]);

/** Whether a string is one of the contract's error codes. */
export const isApiErrorCode = (code: unknown): code is ApiErrorCode =>
  typeof code === 'string' && apiErrorCodes.has(code);

export interface AuthErrorOptions {
  /** The HTTP status, or 0 when there was no HTTP answer. */
  status?: number;
  /** Seconds from a `Retry-After` header (429, 503). */
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** Every failure the client reports: `code` is the contract's error code, or one of {@link ClientErrorCode}. */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(code: AuthErrorCode, message: string, options: AuthErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = options.status ?? 0;
    this.retryAfter = options.retryAfter;
  }
}

/** There is no usable session: the caller must log in (again). `reason` says how the session ended. */
export class SignedOutError extends AuthError {
  readonly reason: SignOutReason;

  constructor(reason: SignOutReason, options: AuthErrorOptions = {}) {
    super('signed_out', signOutMessages[reason], options);
    this.name = 'SignedOutError';
    this.reason = reason;
  }
}

const signOutMessages: Record<SignOutReason, string> = {
  logged_out: 'You have logged out.',
  logged_out_everywhere: 'You have logged out on every device.',
  account_deleted: 'The account has been deleted.',
  refresh_token_reused: 'The session was revoked because a refresh token was used twice; log in again.',
  session_revoked: 'The session has been logged out or revoked; log in again.',
  token_expired: 'The session has expired; log in again.',
  invalid_token: 'The stored tokens are no longer valid; log in again.',
  cleared_elsewhere: 'The session was ended in another tab or window.',
  no_session: 'Not signed in.',
};

/** Builds the {@link AuthError} for a non-2xx answer, reading the contract's `{error, message}` body. */
export async function errorFromResponse(response: Response): Promise<AuthError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const { error, message } = (body ?? {}) as { error?: unknown; message?: unknown };
  const retryAfterHeader = Number(response.headers.get('retry-after'));
  const options: AuthErrorOptions = {
    status: response.status,
    retryAfter: Number.isFinite(retryAfterHeader) && retryAfterHeader > 0 ? retryAfterHeader : undefined,
  };
  const text = typeof message === 'string' ? message : `HTTP ${response.status}`;
  if (isApiErrorCode(error)) return new AuthError(error, text, options);
  if (response.status === 401) return new AuthError('unauthorized', text, options);
  if (response.status === 403) return new AuthError('forbidden', text, options);
  return new AuthError('unexpected_response', text, options);
}
