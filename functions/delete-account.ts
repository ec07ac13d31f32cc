import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { deleteAccount } from '../lib/operations/delete-account.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `DELETE /auth/account`: deletes the caller's account and every session of it, freeing the username. */
export const handler = httpFunction(async ({ bearerToken, body }) => {
  await deleteAccount(services, bearerToken, requiredString(body, 'password'));
  return { statusCode: 204 };
});
