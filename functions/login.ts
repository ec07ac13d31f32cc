import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { login } from '../lib/operations/login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login`: checks the password and starts a session with a new token pair (body or cookie). */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  const { body, client } = request;
  return transport.pairAnswer(
    await login(services, {
      username: requiredString(body, 'username'),
      password: requiredString(body, 'password'),
      client,
    }),
  );
});
