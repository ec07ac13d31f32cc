import { httpFunction } from '../lib/http/function.ts';
import { logoutAll } from '../lib/operations/logout-all.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/logout-all`: revokes every session of the caller's user. */
export const handler = httpFunction(async ({ bearerToken }) => {
  await logoutAll(services, bearerToken);
  return { statusCode: 204 };
});
