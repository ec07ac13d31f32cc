import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { verifyEmail } from '../lib/operations/verify-email.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/email/verify`: redeems a verification link. */
export const handler = httpFunction(async ({ body }) => {
  await verifyEmail(services, requiredString(body, 'token'));
  return { statusCode: 204 };
});
