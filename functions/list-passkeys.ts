import { httpFunction } from '../lib/http/function.ts';
import { listPasskeys } from '../lib/operations/list-passkeys.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `GET /auth/passkeys`: the caller's passkeys. */
export const handler = httpFunction(async ({ bearerToken }) => ({
  statusCode: 200,
  body: { passkeys: await listPasskeys(services, bearerToken) },
}));
