import type { Services } from '../services.ts';
import { noSuchPasskey, type PasskeySummary, passkeyName, passkeySummary } from '../webauthn/summary.ts';
import { authenticate } from './authenticate.ts';

/**
 * `PATCH /auth/passkeys/{passkeyId}` `{"name"}`: renames one of the caller's passkeys and answers it. Errors: as
 * `authenticate`; `400 invalid_request` for a bad name; `404 not_found` for an id that is not one of the caller's.
 */
export async function renamePasskey(
  services: Services,
  accessToken: string | undefined,
  passkeyId: string | undefined,
  name: string,
): Promise<PasskeySummary> {
  const { userId } = await authenticate(services, accessToken);
  const newName = passkeyName(name, '');
  if (!passkeyId || !(await services.passkeys.rename(userId, passkeyId, newName))) throw noSuchPasskey();
  const renamed = (await services.passkeys.get(userId)).passkeys.find((p) => p.credentialId === passkeyId);
  if (!renamed) throw noSuchPasskey();
  return passkeySummary(renamed);
}
