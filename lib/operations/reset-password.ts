import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import { passwordWeakness } from '../passwords/strength.ts';
import type { Services } from '../services.ts';
import { linkUsable, passwordFingerprint } from '../store/links.ts';
import { currentPassword } from './current-password.ts';
import { replacePassword } from './replace-password.ts';
import { checkResetSecondFactor, type ResetSecondFactor } from './reset-second-factor.ts';

/** `POST /auth/password/reset`'s input (API.md). */
export interface PasswordReset extends ResetSecondFactor {
  token: string;
  newPassword: string;
}

/**
 * Resets a password with a mailed link. The link must be a reset link that is unused, unexpired and not
 * superseded (the account's password hash is still the one the link was made for: any reset or change since
 * kills every outstanding reset link); the new password must follow register's rules; the second factor, if the
 * account has one, must be proved (`checkResetSecondFactor`). Only then is the link used, in one conditional
 * write (of concurrent redemptions exactly one gets past it), and the password replaced with every session of
 * the user revoked. Then the address counts as verified (the link proved it), the name's lockout is cleared and
 * a notice is queued.
 *
 * Requests: GetItem of the link, of the name's item and of the account item (state and hash); the redemption
 * (UpdateItem); `replacePassword` (the new hash and the next generation in one UpdateItem, then the name's copy
 * of the hash); the verification (UpdateItem), the unlock (UpdateItem); the queue's SendMessage. Errors: `400 invalid_link`, `400 weak_password`, `400 invalid_request` (the link stays usable
 * after each of the last two), and the second factor's.
 */
export async function resetPassword(
  services: Services,
  input: PasswordReset,
  client: ClientInfo,
): Promise<void> {
  const { links, users } = services;
  const now = nowSeconds();
  const link = await links.get(input.token);
  if (!linkUsable(link, now) || link.purpose !== 'reset') throw new ApiError('invalid_link');
  const account = await users.getAccount(link.username);
  if (!account || account.userId !== link.userId) throw new ApiError('invalid_link');
  const current = await currentPassword(services, account);
  if (current.deleted || passwordFingerprint(current.passwordHash) !== link.passwordFingerprint)
    throw new ApiError('invalid_link');
  const newPassword = normalisePassword(input.newPassword);
  const weakness = passwordWeakness(newPassword, account.username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });
  await checkResetSecondFactor(services, account, input, client);
  const passwordHash = await services.passwords.hash(newPassword);

  if (!(await links.redeem(input.token, now, randomUUID()))) throw new ApiError('invalid_link');
  // Every session ends (no `keep`): whole-user revocation in the same write as the new hash.
  if (
    !(await replacePassword(services, { userId: account.userId, username: account.username, passwordHash }))
  )
    throw new ApiError('invalid_link', { message: 'The account was deleted meanwhile.' });
  await users.markEmailVerified(account.username, account.userId, link.email);
  await services.attempts.unlock(account.username);
  await services.outbox.enqueue({
    kind: 'notice',
    notice: 'password_reset',
    to: link.email,
    username: account.username,
  });
}
