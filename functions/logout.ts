import { httpFunction } from '../lib/http/function.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { logout } from '../lib/operations/logout.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/**
 * `POST /auth/logout`: revokes the session of the access and/or refresh token presented (the refresh token in
 * the body, or with `X-Token-Transport: cookie` in its cookie, which the answer then clears).
 */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  await transport.clearingOnRefusal(() =>
    logout(services, {
      accessToken: request.bearerToken,
      refreshToken: transport.refreshTokenIfAny(request.body),
    }),
  );
  return transport.loggedOut();
});
