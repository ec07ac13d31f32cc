import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { changeEmail } from '../lib/operations/change-email.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/email`: sets the caller's address (unverified) and mails it a verification link. */
export const handler = httpFunction(async ({ bearerToken, body }) => {
  await changeEmail(services, bearerToken, {
    email: requiredString(body, 'email'),
    password: requiredString(body, 'password'),
  });
  return { statusCode: 204 };
});
