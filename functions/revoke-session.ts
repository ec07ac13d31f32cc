import { httpFunction } from '../lib/http/function.ts';
import { revokeSession } from '../lib/operations/revoke-session.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `DELETE /auth/sessions/{sessionId}`: revokes one of the caller's sessions. */
export const handler = httpFunction(async ({ bearerToken, event }) => {
  await revokeSession(services, bearerToken, event.pathParameters?.sessionId);
  return { statusCode: 204 };
});
