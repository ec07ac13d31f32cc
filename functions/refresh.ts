import { httpFunction } from '../lib/http/function.ts';
import { optionalString, requiredString } from '../lib/http/input.ts';
import { refresh } from '../lib/operations/refresh.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/refresh`: rotates the refresh token and issues a new pair (API.md's checks, in order). */
export const handler = httpFunction(async ({ body, bearerToken }) => ({
  statusCode: 200,
  body: await refresh(services, {
    refreshToken: requiredString(body, 'refreshToken'),
    // The access token may come in the body or as the Bearer header; the body wins when both are sent.
    accessToken: optionalString(body, 'accessToken') ?? bearerToken,
  }),
}));
