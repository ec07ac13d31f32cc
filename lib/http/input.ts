import { ApiError } from '../errors.ts';

/** A parsed JSON body: only a plain object is a valid request body for this API. */
export type JsonBody = Record<string, unknown>;

/** Returns the body as an object, or throws `400 invalid_request` for JSON that is not an object. */
export function bodyObject(body: unknown): JsonBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('invalid_request', { message: 'The request body must be a JSON object.' });
  }
  return body as JsonBody;
}

/** A required string field; `400 invalid_request` naming the field when it is missing or not a string. */
export function requiredString(body: JsonBody, field: string): string {
  const value = body[field];
  if (typeof value !== 'string') {
    throw new ApiError('invalid_request', { message: `"${field}" is required and must be a string.` });
  }
  return value;
}

/** A required JSON object field; `400 invalid_request` naming the field when it is missing or not an object. */
export function requiredObject(body: JsonBody, field: string): JsonBody {
  const value = body[field];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('invalid_request', { message: `"${field}" is required and must be an object.` });
  }
  return value as JsonBody;
}

/** An optional string field: `undefined` when absent, `400 invalid_request` when present but not a string. */
export function optionalString(body: JsonBody, field: string): string | undefined {
  if (body[field] === undefined || body[field] === null) return undefined;
  return requiredString(body, field);
}

/**
 * An optional token field that is ignored unless usable: its value when it is a non-empty string, otherwise
 * `undefined`, so that an absent, empty or wrong-typed field (`123`, `true`, `{}`) never fails the request nor
 * hides a token sent another way. For fields the contract lets a request carry but ignores when they fail
 * verification (API.md, `POST /auth/refresh`: the access token).
 */
export function ignorableToken(body: JsonBody, field: string): string | undefined {
  const value = body[field];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The token of an `Authorization: Bearer <token>` header: `undefined` when there is no header, and an empty
 * string (which never verifies) when the header is not of the Bearer scheme: a bare token is malformed too.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || authorization.trim() === '') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return match?.[1] ?? '';
}

/** A header's value whatever the case of its name (API Gateway passes names as the client sent them). */
export function headerValue(
  headers: Record<string, string | string[] | undefined> | null | undefined,
  name: string,
): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}
