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
  invalid_credentials: { status: 401, message: 'The username or password is incorrect.' },
  invalid_token: { status: 401, message: 'The token is missing, malformed or not valid.' },
  token_expired: { status: 401, message: 'The session has expired; log in again.' },
  session_revoked: { status: 401, message: 'The session has been logged out or revoked.' },
  refresh_token_reused: {
    status: 401,
    message: 'This refresh token was already used; the session has been revoked for safety.',
  },
  not_found: { status: 404, message: 'No such route.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this route.' },
  username_taken: { status: 409, message: 'That username is already taken.' },
  refresh_conflict: {
    status: 409,
    message: 'This refresh token was just rotated by another request; use the newest tokens.',
  },
  payload_too_large: { status: 413, message: 'The request body is larger than 64 KiB.' },
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
}

/** An error with a catalogue code: the only kind of error whose code and message reach a client. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;
  readonly tokenPresented: boolean;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    super(options.message ?? errorCatalogue[code].message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.retryAfter = options.retryAfter;
    this.tokenPresented = options.tokenPresented ?? true;
  }
}

/** A downstream dependency (DynamoDB, SSM) failed: answered as 503 and never as a token. */
export function serviceUnavailable(cause: unknown, retryAfter = 1): ApiError {
  return new ApiError('service_unavailable', { cause, retryAfter });
}
