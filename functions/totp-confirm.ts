import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { confirmTotp } from '../lib/operations/confirm-totp.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/mfa/totp/confirm`: turns TOTP on with a code of the pending secret; answers the recovery codes. */
export const handler = httpFunction(async ({ bearerToken, body }) => ({
  statusCode: 200,
  body: await confirmTotp(services, bearerToken, requiredString(body, 'code')),
}));
