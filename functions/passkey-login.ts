import { httpFunction } from '../lib/http/function.ts';
import { requiredObject, requiredString } from '../lib/http/input.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { passkeyLogin } from '../lib/operations/passkey-login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/passkeys/login`: signs in with a passkey and starts a session with a new token pair (body or cookie). */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  const { body, client } = request;
  return transport.pairAnswer(
    await passkeyLogin(services, {
      challengeId: requiredString(body, 'challengeId'),
      response: requiredObject(body, 'response'),
      deviceToken: transport.deviceToken(body),
      client,
    }),
    { deviceTokenMaxAge: services.config.deviceTokenTtl },
  );
});
