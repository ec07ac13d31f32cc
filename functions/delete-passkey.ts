import { httpFunction } from '../lib/http/function.ts';
import { deletePasskey } from '../lib/operations/delete-passkey.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `DELETE /auth/passkeys/{passkeyId}`: deletes one of the caller's passkeys. */
export const handler = httpFunction(async ({ bearerToken, event }) => {
  await deletePasskey(services, bearerToken, event.pathParameters?.passkeyId);
  return { statusCode: 204 };
});
