import type { Services } from '../services.ts';
import { noSuchPasskey } from '../webauthn/summary.ts';
import { authenticate } from './authenticate.ts';

/**
 * `DELETE /auth/passkeys/{passkeyId}`: deletes one of the caller's passkeys, in one conditional write; from then
 * on no assertion of it signs anyone in. Errors: as `authenticate`; `404 not_found` for an id that is not one of
 * the caller's passkeys (another user's, an unknown one, or one already deleted: the answer is the same).
 */
export async function deletePasskey(
  services: Services,
  accessToken: string | undefined,
  passkeyId: string | undefined,
): Promise<void> {
  const { userId } = await authenticate(services, accessToken);
  if (!passkeyId || !(await services.passkeys.remove(userId, passkeyId))) throw noSuchPasskey();
}
