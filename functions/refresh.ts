import { httpFunction } from '../lib/http/function.ts';
import { ignorableToken } from '../lib/http/input.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { refresh } from '../lib/operations/refresh.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/**
 * `POST /auth/refresh`: rotates the refresh token and issues a new pair (API.md's checks, in order); the
 * refresh token comes in the body, or with `X-Token-Transport: cookie` in its cookie, and goes back the same way.
 */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  const { body, bearerToken } = request;
  const pair = await transport.clearingOnRefusal(() =>
    refresh(services, {
      refreshToken: transport.refreshToken(body),
      // The access token may come in the body or as the Bearer header; a usable one in the body wins. It only
      // ever extends an expired refresh token (check 6) and is ignored when it fails: an empty or wrong-typed
      // one too.
      accessToken: ignorableToken(body, 'accessToken') ?? bearerToken,
    }),
  );
  return transport.pairAnswer(pair);
});
