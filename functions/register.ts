import { httpFunction } from '../lib/http/function.ts';
import { optionalString, requiredString } from '../lib/http/input.ts';
import { register } from '../lib/operations/register.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/register`: creates an account. */
export const handler = httpFunction(async ({ body }) => ({
  statusCode: 201,
  body: await register(services, {
    username: requiredString(body, 'username'),
    password: requiredString(body, 'password'),
    email: optionalString(body, 'email'),
  }),
}));
