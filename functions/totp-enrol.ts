import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { enrolTotp } from '../lib/operations/enrol-totp.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/mfa/totp`: a pending TOTP secret for the caller's authenticator app. */
export const handler = httpFunction(async ({ bearerToken, body }) => ({
  statusCode: 200,
  body: await enrolTotp(services, bearerToken, requiredString(body, 'password')),
}));
