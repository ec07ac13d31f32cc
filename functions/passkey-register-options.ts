import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { passkeyRegistrationOptions } from '../lib/operations/passkey-registration-options.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/passkeys/register/options`: creation options for a new passkey, after a fresh password check. */
export const handler = httpFunction(async ({ bearerToken, body }) => ({
  statusCode: 200,
  body: await passkeyRegistrationOptions(services, bearerToken, requiredString(body, 'password')),
}));
