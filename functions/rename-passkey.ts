import { httpFunction } from '../lib/http/function.ts';
import { requiredString } from '../lib/http/input.ts';
import { renamePasskey } from '../lib/operations/rename-passkey.ts';
import { defaultServices } from '../lib/services.ts';

const services = defaultServices();

/** `PATCH /auth/passkeys/{passkeyId}`: renames one of the caller's passkeys. */
export const handler = httpFunction(async ({ bearerToken, body, event }) => ({
  statusCode: 200,
  body: await renamePasskey(
    services,
    bearerToken,
    event.pathParameters?.passkeyId,
    requiredString(body, 'name'),
  ),
}));
