import { httpFunction } from '../lib/http/function.ts';
import { passkeyLoginOptions } from '../lib/operations/passkey-login-options.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/passkeys/login/options`: request options for a passwordless sign-in, with their `challengeId`. */
export const handler = httpFunction(async () => ({
  statusCode: 200,
  body: await passkeyLoginOptions(services),
}));
