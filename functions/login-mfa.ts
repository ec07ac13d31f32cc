import { ApiError } from '../lib/errors.ts';
import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { loginWithSecondFactor } from '../lib/operations/login-mfa.ts';
import { secondFactorProof } from '../lib/operations/second-factor.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/login/mfa`: completes a login answered `mfa_required` with a second factor. */
export const handler = httpFunction(async ({ body, client }) => {
  const mfaToken = requiredString(body, 'mfaToken');
  const proof = secondFactorProof(body);
  if (!proof)
    throw new ApiError('invalid_request', {
      message: 'Send "code", "recoveryCode" or "passkey" with the mfaToken.',
    });
  return { statusCode: 200, body: await loginWithSecondFactor(services, { mfaToken, proof, client }) };
});
