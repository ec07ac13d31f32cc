import { httpFunction } from '../lib/http/function.ts';
import { optionalString, requiredObject } from '../lib/http/input.ts';
import { registerPasskey } from '../lib/operations/register-passkey.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/passkeys/register`: verifies the browser's registration response and stores the passkey. */
export const handler = httpFunction(async ({ bearerToken, body }) => ({
  statusCode: 201,
  body: await registerPasskey(services, bearerToken, {
    response: requiredObject(body, 'response'),
    name: optionalString(body, 'name'),
  }),
}));
