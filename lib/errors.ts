import { HttpError } from '@middy/util';

/** middy's `HttpError` as its code constructs it: `(statusCode, message, { cause, expose })` (its .d.ts omits it). */
const MiddyHttpError = HttpError as unknown as new (
  statusCode: number,
  message: string,
  options: { cause?: unknown; expose?: boolean },
) => HttpError;

/**
 * The one closed catalogue of error codes the service answers with, each paired with its HTTP status and a
 * default human sentence. Every error a client can see is an {@link ApiError} carrying one of these codes.
 */
export const errorCatalogue = {
  invalid_request: {
    status: 400,
    message: 'The request is malformed or a field is missing or of the wrong type.',
  },
  weak_password: { status: 400, message: 'The password is too weak.' },
  invalid_link: {
    status: 400,
    message: 'This link is not valid: it is unknown, already used, expired or superseded.',
  },
  invalid_credentials: { status: 401, message: 'The username or password is incorrect.' },
  invalid_token: { status: 401, message: 'The token is missing, malformed or not valid.' },
  token_expired: { status: 401, message: 'The session has expired; log in again.' },
  session_revoked: { status: 401, message: 'The session has been logged out or revoked.' },
  refresh_token_reused: {
    status: 401,
    message: 'This refresh token was already used; the session has been revoked for safety.',
  },
  mfa_required: {
    status: 401,
    message: 'A second factor is required: complete the login with POST /auth/login/mfa.',
  },
  invalid_mfa_code: { status: 401, message: 'The code is not valid.' },
  account_disabled: {
    status: 403,
    message: 'This account has been disabled by an administrator.',
  },
  email_not_verified: {
    status: 403,
    message: "This account's e-mail address is not verified yet; open the link in the verification mail.",
  },
  invalid_origin: {
    status: 403,
    message: 'Requests from this origin may not use the cookie transport.',
  },
  not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this route.' },
  username_taken: { status: 409, message: 'That username is already taken.' },
  email_taken: { status: 409, message: 'That e-mail address belongs to another account.' },
  mfa_already_enabled: { status: 409, message: 'TOTP is already on; turn it off first to enrol again.' },
  mfa_not_enabled: { status: 409, message: 'TOTP is not on for this account.' },
  refresh_conflict: {
    status: 409,
    message: 'This refresh token was just rotated by another request; use the newest tokens.',
  },
  payload_too_large: { status: 413, message: 'The request body is larger than 64 KiB.' },
  unsupported_media_type: {
    status: 415,
    message: 'A request body must be sent with Content-Type: application/json.',
  },
  too_many_attempts: { status: 429, message: 'Too many failed attempts; try again later.' },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
  service_unavailable: { status: 503, message: 'The service is briefly unavailable; try again shortly.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface ApiErrorOptions {
  /** A more specific human sentence than the catalogue's default. Never include secrets or tokens. */
  message?: string;
  /** Seconds for a `Retry-After` header (429, 503). */
  retryAfter?: number;
  /** For 401s: whether the client presented a token (RFC 6750 `error="invalid_token"` only then). */
  tokenPresented?: boolean;
  /** The underlying fault, kept for logs; never sent to the client. */
  cause?: unknown;
  /**
   * Further members of the error body (API.md: `mfa_required` carries `mfaToken` and `methods`). Written after
   * `error` and `message`, which they can never replace.
   */
  details?: Readonly<Record<string, unknown>>;
}

/** 401 codes about a password or a second-factor code, not a bearer token (no RFC 6750 challenge). */
const CREDENTIAL_CODES: ReadonlySet<ErrorCode> = new Set([
  'invalid_credentials',
  'mfa_required',
  'invalid_mfa_code',
]);

/**
 * An error with a catalogue code: the only kind of error whose code and message reach a client. It is a middy
 * `HttpError` (`@middy/util`), so it carries its own `statusCode`, `expose` (always true: its message is the
 * catalogue's or a sentence written for the client, never an internal detail) and response `headers`
 * (`Retry-After`, RFC 6750 `WWW-Authenticate`). `lib/http/function.ts` renders it, in one place.
 */
export class ApiError extends MiddyHttpError {
  readonly code: ErrorCode;
  override readonly status: number;
  readonly retryAfter: number | undefined;
  readonly tokenPresented: boolean;
  /** The headers this answer carries besides the body (RFC 9110 `Retry-After`, RFC 6750 `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    const { status } = errorCatalogue[code];
    super(status, options.message ?? errorCatalogue[code].message, { cause: options.cause, expose: true });
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.retryAfter = options.retryAfter;
    this.tokenPresented = options.tokenPresented ?? true;
    this.details = options.details;
    this.headers = {};
    if (this.retryAfter !== undefined)
      this.headers['Retry-After'] = String(Math.max(1, Math.ceil(this.retryAfter)));
    // Credentials and second-factor codes are not bearer tokens: RFC 6750's challenge is not about them.
    if (status === 401 && !CREDENTIAL_CODES.has(code)) {
      // RFC 6750 §3: name the error only when a token was actually presented.
      this.headers['WWW-Authenticate'] = this.tokenPresented ? 'Bearer error="invalid_token"' : 'Bearer';
    }
  }

  /** The response body every error answer has (API.md): `{"error": "<code>", "message": "<sentence>"}`. */
  toJSON(): { error: ErrorCode; message: string } & Record<string, unknown> {
    const own = { error: this.code, message: this.message };
    // `error` and `message` first and last: the details add members but never replace these two.
    return Object.assign({ ...own }, this.details, own);
  }
}

/** A downstream dependency (DynamoDB, SSM) failed: answered as 503 and never as a token. */
export function serviceUnavailable(cause: unknown, retryAfter = 1): ApiError {
  return new ApiError('service_unavailable', { cause, retryAfter });
}

/**
 * A refusal: an `ApiError` below 500 (the caller's token, credentials or input were not good enough), as opposed
 * to a fault of the service or of a dependency. The authorizer logs the two differently; both refuse.
 */
export const isRefusal = (error: unknown): error is ApiError =>
  error instanceof ApiError && error.status < 500;
