import { httpFunction } from '../lib/http/function.ts';
import { requiredObject, requiredString } from '../lib/http/input.ts';
import { passkeyLogin } from '../lib/operations/passkey-login.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/passkeys/login`: signs in with a passkey and starts a session with a new token pair. */
export const handler = httpFunction(async ({ body, client }) => ({
  statusCode: 200,
  body: await passkeyLogin(services, {
    challengeId: requiredString(body, 'challengeId'),
    response: requiredObject(body, 'response'),
    client,
  }),
}));
