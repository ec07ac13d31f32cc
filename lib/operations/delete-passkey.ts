import type { Services } from '../services.ts';
import { noSuchPasskey } from '../webauthn/summary.ts';
import { authenticate } from './authenticate.ts';
import { noticeSecondFactorChange } from './second-factor-notice.ts';

/**
 * `DELETE /auth/passkeys/{passkeyId}`: deletes one of the caller's passkeys, in one conditional write; from then
 * on no assertion of it signs anyone in. Errors: as `authenticate`; `404 not_found` for an id that is not one of
 * the caller's passkeys (another user's, an unknown one, or one already deleted: the answer is the same). A notice
 * goes to the account's verified address (the name's item is read for it).
 */
export async function deletePasskey(
  services: Services,
  accessToken: string | undefined,
  passkeyId: string | undefined,
): Promise<void> {
  const { userId, username } = await authenticate(services, accessToken);
  if (!passkeyId || !(await services.passkeys.remove(userId, passkeyId))) throw noSuchPasskey();
  await noticeSecondFactorChange(services, { userId, username }, 'passkey_removed');
}
