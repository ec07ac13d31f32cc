import { ApiError } from '../lib/errors.ts';
import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { tokenTransport } from '../lib/http/token-transport.ts';
import { loginWithSecondFactor } from '../lib/operations/login-mfa.ts';
import { secondFactorProof } from '../lib/operations/second-factor.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login/mfa`: completes a login answered `mfa_required` with a second factor (body or cookie). */
export const handler = httpFunction(async (request) => {
  const transport = tokenTransport(request);
  const { body, client } = request;
  const mfaToken = requiredString(body, 'mfaToken');
  const proof = secondFactorProof(body);
  if (!proof)
    throw new ApiError('invalid_request', {
      message: 'Send "code", "recoveryCode" or "passkey" with the mfaToken.',
    });
  return transport.pairAnswer(
    await loginWithSecondFactor(services, {
      mfaToken,
      proof,
      client,
      // As at login: the body's or, with the cookie transport, its cookie's; anything unknown is ignored.
      deviceToken: transport.deviceToken(body),
    }),
    { deviceTokenMaxAge: services.config.deviceTokenTtl },
  );
});
