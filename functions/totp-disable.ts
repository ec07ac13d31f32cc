import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { disableTotp } from '../lib/operations/disable-totp.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `DELETE /auth/mfa/totp`: turns TOTP off and removes the recovery codes. */
export const handler = httpFunction(async ({ bearerToken, body }) => {
  await disableTotp(services, bearerToken, requiredString(body, 'password'));
  return { statusCode: 204 };
});
