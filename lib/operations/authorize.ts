import { type AuthenticationServices, authenticate, type Principal } from './authenticate.ts';

export type { Principal } from './authenticate.ts';

/**
 * Decides whether an access token may call a protected route: {@link authenticate}, nothing more or less, so
 * that a token is judged the same by the authorizer and by every operation. Throws on anything else (an
 * `ApiError` below 500 for a refusal, a 503 for a fault of DynamoDB or SSM): there is no allow on an error.
 */
export async function authorize(
  services: AuthenticationServices,
  accessToken: string | undefined,
): Promise<Principal> {
  const { userId, username, sessionId, roles, amr, authTime } = await authenticate(services, accessToken);
  return { userId, username, sessionId, roles, amr, authTime };
}
