import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { forgotPassword } from '../lib/operations/forgot-password.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/password/forgot`: always `202 {}`; a reset mail goes out of band to the address's account, if any. */
export const handler = httpFunction(async ({ body, client }) => {
  await forgotPassword(services, requiredString(body, 'email'), client);
  return { statusCode: 202, body: {} };
});
