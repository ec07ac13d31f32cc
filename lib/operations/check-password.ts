import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { PasswordHasher } from '../passwords/argon2.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import type { Services } from '../services.ts';
import type { AccountState } from '../store/accounts.ts';
import { clientAddressKey } from '../store/lockout-policy.ts';
import { addressWait } from '../store/login-attempts.ts';
import { accountOf, normaliseUsername, type UserAccount } from '../store/users.ts';

/** What a password check needs: the name and password as the client sent them, and where the request came from. */
export interface PasswordCheckInput {
  /** The username as typed (normalised here) or as stored. */
  username: string;
  /** The password as sent: normalised here (NFKC); ill-formed UTF-16 is `400 invalid_request`. */
  password: string;
  /** The caller's address (API Gateway's `sourceIp`), by which failures are also counted. */
  client: { ipAddress: string };
  /**
   * Login only: the id of the session it stores when the check succeeds. It names the check's slot, so that the
   * slot need not be released by a write of its own (the stored session shows the check is over).
   */
  sessionId?: string;
  /**
   * A password change only: the change's new password and the caller's session. When the current password does
   * not match but the last replacement was this session's own (it is the account's carried-over session) and
   * the new password already is the password, the check passes as a repeat of that change (a retry after a
   * lost answer, or a double submission): judged under the same admission, so the lockout bounds it as any check.
   */
  repeatOf?: { newPassword: string; sessionId: string };
}

/** What a passed check returns: the account, and its state read with the hash that was checked. */
export interface CheckedPassword {
  account: UserAccount;
  /**
   * The account state read together with the hash the password matched, or after it when only the name's item
   * holds a hash (see `checkPassword`): the generation a session started on this check belongs to.
   */
  state: AccountState;
  /** The new password of `repeatOf` matched, not the password: the change was already made. */
  repeated: boolean;
  /** The hash that decided (the account item's when it holds one). */
  passwordHash: string;
}

/**
 * The one lockout-guarded password check (API.md "Brute force"), used by login and by every operation whose
 * wrong password "counts toward the lockout". Before any hash is computed:
 * - the client address must not be locked (`LOGIN_ADDRESS_MAX_FAILURES` failures over all names per window);
 * - the name must admit the check: one of its `LOGIN_MAX_FAILURES` slots is taken with a conditional write, so of
 *   any number of concurrent guesses at most that many are checked; the (name, address) pair must not be locked
 *   (its lock grows with each failure from that address); and the name's hourly ceiling must have room.
 * Otherwise `429 too_many_attempts` with `Retry-After`. A wrong password (or an unknown name, checked against a
 * dummy hash at the same cost) is counted for the name, the pair and the address, then `401 invalid_credentials`.
 * A right one clears the name's failures and the pair's count, and upgrades the stored hash when it was made
 * with older parameters or from the password's raw (pre-normalisation) form. Returns the account with its state.
 *
 * Which hash is the password: the account item's once the password has been replaced (written in one write with
 * the generation, see `AccountStore.replacePassword`), else the name's item's (registration's). The name's item
 * carries a copy after a replacement, written just after it: that copy is what the admission reads, and a
 * right password is then confirmed against the account item, read with the state in one read. So the state a
 * session joins is always of the same instant as the hash that admitted it, or (no hash on the account item
 * yet) of an instant before any replacement: either way a replacement ends that session if it came after.
 */
export async function checkPassword(services: Services, input: PasswordCheckInput): Promise<CheckedPassword> {
  const { passwords } = services;
  const password = normalisePassword(input.password);
  const { account, value } = await guardedCheck(
    services,
    { username: normaliseUsername(input.username), client: input.client, holder: input.sessionId },
    async (account) => {
      let check = await verifyNormalised(
        passwords,
        account?.passwordHash ?? passwords.dummyHash,
        password,
        input.password,
      );
      if (!account || !(check.matches || input.repeatOf)) return { matches: false };
      const credentials = await services.accounts.getCredentials(account.userId);
      const held = credentials.passwordHash;
      // The name's copy lags a replacement (the moment between the two writes, or a copy that failed): the
      // account item's hash decides.
      if (held !== undefined && held !== account.passwordHash)
        check = await verifyNormalised(passwords, held, password, input.password);
      let repeated = false;
      const repeat = input.repeatOf;
      if (!check.matches && repeat && credentials.state.carriedSession === repeat.sessionId) {
        const current = held ?? account.passwordHash;
        repeated = (await passwords.verify(current, normalisePassword(repeat.newPassword))).matches;
        if (repeated) check = { matches: true, needsRehash: false };
      }
      if (!check.matches) return { matches: false };
      const newPasswordHash = check.needsRehash ? await passwords.hash(password) : undefined;
      if (newPasswordHash && credentials.passwordHash !== undefined)
        await services.accounts.rehashPassword(account.userId, credentials.passwordHash, newPasswordHash);
      return {
        matches: true,
        newPasswordHash,
        value: {
          state: credentials.state,
          repeated,
          passwordHash: credentials.passwordHash ?? account.passwordHash,
        },
      };
    },
    // No account can have this name: spend the time of a real check all the same.
    async () => {
      await passwords.verify(passwords.dummyHash, password);
    },
  );
  return { account, ...(value as Omit<CheckedPassword, 'account'>) };
}

/** What a check inside {@link guardedCheck} found: whether it matched, and what the caller wants back. */
export interface GuardedOutcome<T> {
  matches: boolean;
  /** A new hash of the name's password (a rehash), written with the success (conditional on the old one). */
  newPasswordHash?: string | undefined;
  value?: T;
}

/**
 * The lockout guard around one check of a secret for a name (API.md "Brute force"): a password, or a
 * second-factor code, whose wrong guesses "count toward the name's lockout like wrong passwords". Before `verify`
 * runs, the address must not be locked and the name must admit the check (one of its check slots, the pair's
 * lock, the hourly ceiling): else `429 too_many_attempts`. A mismatch is counted for the name, the pair and the
 * address, then `401 invalid_credentials` (or `failure`'s error); a match clears the name's failures and the
 * pair's count and releases the slot, unless `holder` names a session about to be stored (a login), whose
 * lease may lapse by itself (see `LoginAttemptStore.recordSuccess`). Returns the account and `verify`'s value.
 *
 * A login whose right password is answered `mfa_required` stores no session, so its check is not proven over by
 * one: its slot is released at once, and the owner can sign in again at once.
 */
export async function guardedCheck<T>(
  services: Services,
  input: {
    /** The normalised name (`undefined`: no account can have it). */
    username: string | undefined;
    client: { ipAddress: string };
    /** Login only: the id of the session stored when the check succeeds. */
    holder?: string | undefined;
    /**
     * Whether a success with `holder` will store that session (so its lease may lapse by itself): by default,
     * when the account needs no second factor (else the login answers `mfa_required` and stores none).
     */
    storesSession?: (account: UserAccount) => boolean;
    /** The refusal of a mismatch (default `401 invalid_credentials`). */
    failure?: () => ApiError;
  },
  verify: (
    account: UserAccount | undefined,
    item: Record<string, unknown> | undefined,
  ) => Promise<GuardedOutcome<T>>,
  unknownName: () => Promise<void> = async () => undefined,
): Promise<{ account: UserAccount; value: T | undefined }> {
  const { attempts } = services;
  const policy = attempts.policy;
  // Counted per IPv6 /64 (an IPv4 address as it is): one subscriber holds a whole /64.
  const address = clientAddressKey(input.client.ipAddress);
  const failure = input.failure ?? (() => new ApiError('invalid_credentials'));
  const now = nowSeconds();

  const addressCount = await attempts.addressCount(address);
  const addressLock = addressWait(addressCount, now, policy);
  if (addressLock > 0) throw new ApiError('too_many_attempts', { retryAfter: addressLock });

  const username = input.username;
  if (!username) {
    await unknownName();
    await attempts.recordAddressFailure(address, addressCount, now);
    throw failure();
  }

  const admission = await attempts.admit(username, address, input.holder ?? randomUUID(), now);
  if (!admission.admitted) throw new ApiError('too_many_attempts', { retryAfter: admission.retryAfter });

  const account = accountOf(admission.state.item);
  const check = await verify(account, admission.state.item);
  if (!account || !check.matches) {
    await Promise.all([
      attempts.recordFailure({ username, address, admission, now }),
      attempts.recordAddressFailure(address, addressCount, now),
    ]);
    throw failure();
  }
  // An account that may have passkeys may be asked for one (`secondFactorMethodsOf`): its slot is released.
  const storesSession =
    input.storesSession ??
    ((checked) => checked.secondFactorMethods.length === 0 && !checked.mayHavePasskeys);
  await attempts.recordSuccess({
    username,
    address,
    admission,
    now,
    newPasswordHash: check.newPasswordHash,
    leaseProvenBySession: input.holder !== undefined && storesSession(account),
  });
  return { account, value: check.value };
}

/**
 * Checks the normalised password, and the raw form as sent when it differs (a hash stored before passwords were
 * normalised was made from it): a match on the raw form asks for a rehash, so the stored hash moves to the
 * normalised form at this login. Both forms are tried for unknown names too, so the time says nothing about them.
 */
async function verifyNormalised(
  passwords: PasswordHasher,
  stored: string,
  normalised: string,
  raw: string,
): Promise<{ matches: boolean; needsRehash: boolean }> {
  const check = await passwords.verify(stored, normalised);
  if (check.matches || raw === normalised) return check;
  const legacy = await passwords.verify(stored, raw);
  return { matches: legacy.matches, needsRehash: legacy.matches };
}
