import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { PasswordHasher } from '../passwords/argon2.ts';
import { normalisePassword } from '../passwords/normalise.ts';
import type { Services } from '../services.ts';
import type { AccountState } from '../store/accounts.ts';
import { type Device, deviceFromItem, devicePlace, deviceTokenUser } from '../store/devices.ts';
import { addressWait, clientAddressKey, type FailureCount, readCount } from '../store/lockout-policy.ts';
import type { OwnCountPlace } from '../store/own-counts.ts';
import { type Session, sessionKey } from '../store/session-state.ts';
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
 * The name's lockout-guarded password check (API.md "Brute force"), used by a login without a known device (and
 * by anything that checks a password without a session; re-entries from a live session use `checkFromSession`,
 * a known device `checkWithDevice`). Before any hash is computed:
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
 * A login carrying a device token (API.md "Known devices"): when the token is a known device of the account
 * under `username` (same user, the user still at the device's generation, not deleted), the check is judged by
 * the device's own failure count and lock, never by the name's check slots, pair counts, hourly ceiling or the
 * address's count, and a wrong password counts against the device alone; so failures from strangers never
 * keep the owner's device out. Returns `undefined` when the token is not such a device (a token of another
 * user, an unknown, revoked or malformed one): the login is then judged as one without it.
 *
 * The device, the name's item and the account item are read in one request, the state with the hash that
 * decides (see `checkOnOwnCount`). Errors: `429 too_many_attempts` while the device is locked,
 * `401 invalid_credentials`, `503`.
 */
export async function checkWithDevice(
  services: Services,
  input: { username: string; password: string; deviceToken: string },
): Promise<(CheckedPassword & { deviceToken: string }) | undefined> {
  const username = normaliseUsername(input.username);
  const known = username ? await readKnownDevice(services, username, input.deviceToken) : undefined;
  if (!known) return undefined;
  const { place, device, account, read } = known;
  const checked = await checkOnOwnCount(services, {
    place,
    seen: device.count,
    account,
    state: read.state,
    accountHash: read.passwordHash,
    password: input.password,
    expiresAt: nowSeconds() + services.config.deviceTokenTtl,
  });
  return { ...checked, deviceToken: input.deviceToken };
}

/** A known device as {@link readKnownDevice} found it, with what was read along with it. */
export interface KnownDevice {
  /** Where the device's own failure count lives. */
  place: OwnCountPlace;
  device: Device;
  /** The account under the name (the device's user's: checked). */
  account: UserAccount;
  /** The name's item (it holds the account's second factors), the account state and the account item's hash. */
  read: { nameItem: Record<string, unknown> | undefined; state: AccountState; passwordHash?: string };
}

/**
 * Whether `deviceToken` is a known device of the account under `username` (API.md "Known devices"): the device,
 * the name's item and the device's user's account item are read in one strongly consistent request; the device
 * counts only while its user holds the name, is not deleted and is still at the device's generation (a
 * whole-user revocation since forgets it). `undefined` for any other token (another user's, an unknown, revoked
 * or malformed one): the caller then judges the request as one without a device. One `BatchGetItem`.
 */
export async function readKnownDevice(
  services: Services,
  username: string,
  deviceToken: string,
): Promise<KnownDevice | undefined> {
  const userId = deviceTokenUser(deviceToken);
  if (!userId) return undefined;
  const place = devicePlace(deviceToken);
  const read = await services.users.getWithAccount(username, userId, place.key);
  const device = deviceFromItem(read.extraItem);
  const account = accountOf(read.nameItem);
  if (
    !device ||
    !account ||
    device.userId !== userId ||
    account.userId !== userId ||
    read.state.deleted ||
    device.generation !== read.state.generation
  )
    return undefined;
  return { place, device, account, read };
}

/**
 * Re-entering the password from a live session (password change, account deletion, second-factor and passkey
 * settings; API.md "Known devices"): judged by the session's own failure count and lock (`LOGIN_MAX_FAILURES`,
 * growing lock), never by the name's, so strangers' failures never keep the owner from their own settings,
 * and a stolen session's guesses lock that session alone. `caller` is what `authenticate` returned.
 *
 * `repeatOf` (a password change only): when the password does not match but the last replacement was this
 * session's own (it is the account's carried-over session) and the change's new password already is the
 * password, the check passes as a repeat of that change (a retry after a lost answer, or a double submission),
 * under the same reservation, so the session's count bounds it as any check.
 *
 * Errors: `429 too_many_attempts` while the session's count is locked, `401 invalid_credentials`, `503`.
 */
export async function checkFromSession(
  services: Services,
  caller: { userId: string; username: string; sessionId: string; session: Session },
  password: string,
  repeatOf?: { newPassword: string },
): Promise<CheckedPassword> {
  const read = await services.users.getWithAccount(caller.username, caller.userId);
  const account = accountOf(read.nameItem);
  return checkOnOwnCount(services, {
    place: { key: sessionKey(caller.sessionId), attribute: 'reauth' },
    seen: readCount(caller.session.reauth),
    account,
    state: read.state,
    accountHash: read.passwordHash,
    password,
    ...(repeatOf && { repeatOf: { ...repeatOf, sessionId: caller.sessionId } }),
  });
}

/**
 * A password check on a credential's own count (see `reserveOwnCheck`): the count is reserved first (or
 * `429`), the password verified against the hash that decides (the account item's, read with `state` in one
 * read, else the name's item's), then a failure locks the count from the limit on (`401`) and a success clears
 * it (and, with `expiresAt`, extends the credential's life). `account` absent (the name is now another
 * account's, or none) is a failure.
 */
async function checkOnOwnCount(
  services: Services,
  input: {
    place: OwnCountPlace;
    seen: FailureCount | undefined;
    account: UserAccount | undefined;
    state: AccountState;
    accountHash: string | undefined;
    password: string;
    repeatOf?: { newPassword: string; sessionId: string };
    expiresAt?: number;
  },
): Promise<CheckedPassword> {
  const { ownCounts, passwords } = services;
  const now = nowSeconds();
  const password = normalisePassword(input.password);
  const reservation = await ownCounts.reserve(input.place, input.seen, now);
  if ('wait' in reservation) throw new ApiError('too_many_attempts', { retryAfter: reservation.wait });
  const { account, state } = input;
  const deciding =
    account && state.userId === account.userId ? (input.accountHash ?? account.passwordHash) : undefined;
  let check = await verifyNormalised(passwords, deciding ?? passwords.dummyHash, password, input.password);
  let repeated = false;
  const repeat = input.repeatOf;
  if (deciding && !check.matches && repeat && state.carriedSession === repeat.sessionId) {
    repeated = (await passwords.verify(deciding, normalisePassword(repeat.newPassword))).matches;
    if (repeated) check = { matches: true, needsRehash: false };
  }
  if (!account || !deciding || !check.matches) {
    await ownCounts.recordFailure(input.place, reservation.reserved, now);
    throw new ApiError('invalid_credentials');
  }
  if (check.needsRehash) {
    const newHash = await passwords.hash(password);
    if (input.accountHash !== undefined)
      await services.accounts.rehashPassword(account.userId, deciding, newHash);
    await services.users.rehashPassword(account.username, account.passwordHash, newHash);
  }
  await ownCounts.clear(
    input.place,
    input.expiresAt === undefined ? undefined : { expiresAt: input.expiresAt },
  );
  return { account, state, repeated, passwordHash: deciding };
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
