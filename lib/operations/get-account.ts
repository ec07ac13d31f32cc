import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';

/** `GET /auth/account`'s answer (API.md). */
export interface AccountView {
  userId: string;
  username: string;
  email: string | null;
  emailVerified: boolean;
  /** The second factors: TOTP enrolled, passkeys registered, recovery codes left. */
  mfa: { totp: boolean; passkeys: number; recoveryCodesLeft: number };
}

/**
 * The caller's account: who it is, its address and whether that is verified, and its second factors.
 * Requests: the authentication read (session and account state, one BatchGetItem), then two GetItems at once:
 * the name's item (address, TOTP, recovery codes) and the user's passkeys item. Errors: as `authenticate`; `401 session_revoked` when the name now belongs to another account.
 */
export async function getAccount(services: Services, accessToken: string | undefined): Promise<AccountView> {
  const { userId, username } = await authenticate(services, accessToken);
  const [account, passkeys] = await Promise.all([
    services.users.getAccount(username),
    services.passkeys.get(userId),
  ]);
  if (!account || account.userId !== userId) throw new ApiError('session_revoked');
  return {
    userId,
    username,
    email: account.email ?? null,
    emailVerified: account.emailVerified,
    mfa: {
      totp: account.secondFactorMethods.includes('totp'),
      passkeys: passkeys.passkeys.length,
      recoveryCodesLeft: account.recoveryCodesLeft,
    },
  };
}
