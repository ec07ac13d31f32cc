import type { Services } from '../services.ts';
import type { UserAccount } from '../store/users.ts';

/**
 * The account's password hash as it is now, and whether the account is deleted: the account item's hash (where
 * a password replacement commits it), or the name's item's for an account whose password was never replaced.
 * What reset links are bound to (`passwordFingerprint`), read the same way where a link is made and where it
 * is redeemed, so that any replacement since the link was made kills it. One GetItem.
 */
export async function currentPassword(
  services: Services,
  account: UserAccount,
): Promise<{ passwordHash: string; deleted: boolean }> {
  const { state, passwordHash } = await services.accounts.getCredentials(account.userId);
  return { passwordHash: passwordHash ?? account.passwordHash, deleted: state.deleted };
}
