import { httpFunction } from '../lib/http/function.ts';
import { resendVerification } from '../lib/operations/resend-verification.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `POST /auth/email/resend`: the verification mail again. */
export const handler = httpFunction(async ({ bearerToken }) => {
  await resendVerification(services, bearerToken);
  return { statusCode: 202, body: {} };
});
