import { httpFunction } from '../lib/http/function.ts';
import { getAccount } from '../lib/operations/get-account.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `GET /auth/account`: the caller's account, address and second factors. */
export const handler = httpFunction(async ({ bearerToken }) => ({
  statusCode: 200,
  body: await getAccount(services, bearerToken),
}));
