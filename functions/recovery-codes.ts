import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { regenerateRecoveryCodes } from '../lib/operations/regenerate-recovery-codes.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/mfa/recovery-codes`: a new set of recovery codes; the old set dies. */
export const handler = httpFunction(async ({ bearerToken, body }) => ({
  statusCode: 200,
  body: await regenerateRecoveryCodes(services, bearerToken, requiredString(body, 'password')),
}));
