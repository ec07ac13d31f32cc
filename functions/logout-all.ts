import { authorizationHeader, httpFunction } from '../lib/http/function.ts';
import { bearerToken } from '../lib/http/input.ts';
import { logoutAll } from '../lib/operations/logout-all.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/logout-all`: revokes every session of the caller's user. */
export const handler = httpFunction(async (event) => {
  await logoutAll(services, bearerToken(authorizationHeader(event)));
  return { statusCode: 204 };
});
