import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { normaliseEmail } from '../mail/address.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import { passwordWeakness } from '../passwords/strength.ts';
import type { Services } from '../services.ts';
import { type NewAccount, normaliseUsername } from '../store/users.ts';
import { claimEmail } from './email-claim.ts';
import type { Credentials } from './login.ts';

/**
 * Registers an account: `{userId, username, email}` with the stored (normalised) username and address. The
 * password is normalised (NFKC) before the strength rule and the hash (API.md "Passwords"); the new item replaces
 * whatever failed logins left under the name.
 *
 * With an address (required when `REQUIRE_VERIFIED_EMAIL`), the address is claimed first (`409 email_taken`
 * when another account holds it), then the account is written naming it; when the name turns out taken the claim
 * is given back (should that fail, the claim is stale anyway: no account item names the address). A
 * verification mail is queued last, after the account exists.
 */
export async function register(
  services: Services,
  credentials: Credentials & { email?: string | undefined },
): Promise<{ userId: string; username: string; email: string | null }> {
  const { username: rawUsername } = credentials;
  const email = credentials.email === undefined ? undefined : normaliseEmail(credentials.email);
  if (credentials.email !== undefined && email === undefined) {
    throw new ApiError('invalid_request', {
      message: 'The e-mail address must have one "@", at most 254 characters and no spaces.',
    });
  }
  if (email === undefined && services.config.requireVerifiedEmail) {
    throw new ApiError('invalid_request', { message: '"email" is required on this service.' });
  }
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
  const account: NewAccount = {
    userId,
    username,
    passwordHash: await services.passwords.hash(password),
    email,
    now: nowSeconds(),
  };
  if (
    email !== undefined &&
    !(await claimEmail(services, { email, userId, username, claimedAt: account.now }))
  )
    throw new ApiError('email_taken');
  if (!(await services.users.createUser(account)) && !(await reclaimDeletedName(services, account))) {
    if (email !== undefined) await services.emails.release(email, userId);
    throw new ApiError('username_taken');
  }
  if (email !== undefined) await services.outbox.enqueue({ kind: 'verify', userId, username, email });
  return { userId, username, email: email ?? null };
}

/**
 * A name is free once its account is deleted (API.md), even if the deletion could not remove the name's item
 * (it commits by marking the account deleted, then cleans up): such a name goes to the new account, in one write
 * conditional on the item still holding the deleted account.
 */
async function reclaimDeletedName(services: Services, account: NewAccount): Promise<boolean> {
  const holder = await services.users.getAccount(account.username);
  if (!holder || !(await services.accounts.getAccount(holder.userId)).deleted) return false;
  return services.users.reclaimName(holder.userId, account);
}
