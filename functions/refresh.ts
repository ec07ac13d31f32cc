import { httpFunction } from '../lib/http/function.ts';
import { ignorableToken, requiredString } from '../lib/http/input.ts';
import { refresh } from '../lib/operations/refresh.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/refresh`: rotates the refresh token and issues a new pair (API.md's checks, in order). */
export const handler = httpFunction(async ({ body, bearerToken }) => ({
  statusCode: 200,
  body: await refresh(services, {
    refreshToken: requiredString(body, 'refreshToken'),
    // The access token may come in the body or as the Bearer header; a usable one in the body wins. It only ever
    // extends an expired refresh token (check 6) and is ignored when it fails: an empty or wrong-typed one too.
    accessToken: ignorableToken(body, 'accessToken') ?? bearerToken,
  }),
}));
