import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { loginMfaOptions } from '../lib/operations/login-mfa-options.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login/mfa/options`: WebAuthn request options for a second-factor step with a passkey. */
export const handler = httpFunction(async ({ body }) => ({
  statusCode: 200,
  body: await loginMfaOptions(services, requiredString(body, 'mfaToken')),
}));
