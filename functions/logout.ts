import { httpFunction } from '../lib/http/function.ts';
import { optionalString } from '../lib/http/input.ts';
import { logout } from '../lib/operations/logout.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/logout`: revokes the session of the access and/or refresh token presented. */
export const handler = httpFunction(async ({ body, bearerToken }) => {
  await logout(services, { accessToken: bearerToken, refreshToken: optionalString(body, 'refreshToken') });
  return { statusCode: 204 };
});
