import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { login } from '../lib/operations/login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/**
 * `POST /auth/login`: checks the password and starts a session with a new token pair (body or cookie). The
 * device token comes from the body or, with the cookie transport, its cookie; one that is absent, wrong-typed or
 * not this account's is ignored (API.md "Known devices"). It is answered the same way.
 */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  const { body, client } = request;
  return transport.pairAnswer(
    await login(services, {
      username: requiredString(body, 'username'),
      password: requiredString(body, 'password'),
      deviceToken: transport.deviceToken(body),
      client,
    }),
    { deviceTokenMaxAge: services.config.deviceTokenTtl },
  );
});
