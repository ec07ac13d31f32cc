import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { login } from '../lib/operations/login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login`: checks the password and starts a session with a new token pair. */
export const handler = httpFunction(async ({ body, client }) => ({
  statusCode: 200,
  body: await login(services, {
    username: requiredString(body, 'username'),
    password: requiredString(body, 'password'),
    client,
  }),
}));
