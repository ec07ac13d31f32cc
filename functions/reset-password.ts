import { httpFunction } from '../lib/http/function.ts';
import { optionalString, requiredString } from '../lib/http/input.ts';
import { resetPassword } from '../lib/operations/reset-password.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/password/reset`: redeems a reset link with a new password; every session of the user ends. */
export const handler = httpFunction(async ({ body, client }) => {
  await resetPassword(
    services,
    {
      token: requiredString(body, 'token'),
      newPassword: requiredString(body, 'newPassword'),
      code: optionalString(body, 'code'),
      recoveryCode: optionalString(body, 'recoveryCode'),
    },
    client,
  );
  return { statusCode: 204 };
});
