import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import { passwordWeakness } from '../passwords/strength.ts';
import type { Services } from '../services.ts';
import { normaliseUsername } from '../store/users.ts';
import type { Credentials } from './login.ts';

/**
 * Registers an account: `{userId, username}` with the stored (normalised) username. The password is normalised
 * (NFKC) before the strength rule and the hash (API.md "Passwords"); the new item replaces whatever failed logins
 * left under the name.
 */
export async function register(
  services: Services,
  credentials: Credentials,
): Promise<{ userId: string; username: string }> {
  const { username: rawUsername } = credentials;
  const username = normaliseUsername(rawUsername);
  if (!username) {
    throw new ApiError('invalid_request', {
      message:
        'The username must be 3-64 characters of a-z, 0-9, ".", "_", "@", "+", "-", starting with a letter or digit.',
    });
  }
  // The strength rule judges, and the hash is made from, one and the same string: the NFKC form.
  const password = normalisePassword(credentials.password);
  const weakness = passwordWeakness(password, username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });

  const userId = randomUUID();
  const account = {
    userId,
    username,
    passwordHash: await services.passwords.hash(password),
    now: nowSeconds(),
  };
  if (!(await services.users.createUser(account)) && !(await reclaimDeletedName(services, account)))
    throw new ApiError('username_taken');
  return { userId, username };
}

/**
 * A name is free once its account is deleted (API.md), even if the deletion could not remove the name's item
 * (it commits by marking the account deleted, then cleans up): such a name goes to the new account, in one write
 * conditional on the item still holding the deleted account.
 */
async function reclaimDeletedName(
  services: Services,
  account: { userId: string; username: string; passwordHash: string; now: number },
): Promise<boolean> {
  const holder = await services.users.getAccount(account.username);
  if (!holder || !(await services.accounts.getAccount(holder.userId)).deleted) return false;
  return services.users.reclaimName(holder.userId, account);
}
