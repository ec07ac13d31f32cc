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
 * Requests: the authentication read (session and account state, one BatchGetItem) and a GetItem of the account
 * item. Errors: as `authenticate`; `401 session_revoked` when the name now belongs to another account.
 */
export async function getAccount(services: Services, accessToken: string | undefined): Promise<AccountView> {
  const { userId, username } = await authenticate(services, accessToken);
  const account = await services.users.getAccount(username);
  if (!account || account.userId !== userId) throw new ApiError('session_revoked');
  return {
    userId,
    username,
    email: account.email ?? null,
    emailVerified: account.emailVerified,
    // No second factor exists on this service yet: the shape is the contract's, the values those of an account
    // without any.
    mfa: { totp: false, passkeys: 0, recoveryCodesLeft: 0 },
  };
}
