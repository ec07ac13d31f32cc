import type { Services } from '../services.ts';
import { type PasskeySummary, passkeySummary } from '../webauthn/summary.ts';
import { authenticate } from './authenticate.ts';

/**
 * `GET /auth/passkeys`: the caller's passkeys, oldest first (never a public key or counter). Requests: the
 * authentication read and one read. Errors as `authenticate`.
 */
export async function listPasskeys(
  services: Services,
  accessToken: string | undefined,
): Promise<PasskeySummary[]> {
  const { userId } = await authenticate(services, accessToken);
  return (await services.passkeys.get(userId)).passkeys.map(passkeySummary);
}
