import { ApiError } from '../lib/errors.ts';
import { httpFunction } from '../lib/http/function.ts';

/**
 * `GET /me`: the example protected route. It trusts only what the authorizer put in the request context
 * (REST APIs: `requestContext.authorizer`; HTTP APIs: `requestContext.authorizer.lambda`).
 */
export const handler = httpFunction(async ({ event }) => {
  const authorizer = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  const context = (authorizer?.lambda ?? authorizer) as Record<string, unknown> | undefined;
  const { userId, username, sessionId, roles, amr, authTime } = context ?? {};
  if (typeof userId !== 'string' || typeof username !== 'string' || typeof sessionId !== 'string') {
    // Only reachable when the route is deployed without the authorizer in front of it.
    throw new ApiError('invalid_token', { tokenPresented: false });
  }
  return {
    statusCode: 200,
    body: {
      userId,
      username,
      sessionId,
      // Comma-separated in the context (API Gateway allows only scalar values there); `[]` when none.
      roles: typeof roles === 'string' && roles !== '' ? roles.split(',') : [],
      amr: typeof amr === 'string' && amr !== '' ? amr.split(',') : [],
      // A string in the context (API Gateway passes context values on as strings); null only without the authorizer's.
      authTime: authTime === undefined || authTime === '' ? null : Number(authTime),
    },
  };
});
