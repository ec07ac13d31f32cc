import { authorizationHeader, httpFunction } from '../lib/http/function.ts';
import { bearerToken, bodyObject, optionalString } from '../lib/http/input.ts';
import { logout } from '../lib/operations/logout.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/logout`: revokes the session of the access and/or refresh token presented. */
export const handler = httpFunction(async (event) => {
  const refreshToken = optionalString(bodyObject(event.body), 'refreshToken');
  await logout(services, { accessToken: bearerToken(authorizationHeader(event)), refreshToken });
  return { statusCode: 204 };
});
