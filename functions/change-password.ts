import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { changePassword } from '../lib/operations/change-password.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/password`: changes the password and revokes every other session of the user. */
export const handler = httpFunction(async ({ bearerToken, body }) => {
  await changePassword(services, bearerToken, {
    currentPassword: requiredString(body, 'currentPassword'),
    newPassword: requiredString(body, 'newPassword'),
  });
  return { statusCode: 204 };
});
