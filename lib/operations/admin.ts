import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { type AccountState, ROLE_PATTERN } from '../store/accounts.ts';
import { nameWait } from '../store/lockout-policy.ts';
import type { SecondFactorMethod } from '../store/second-factors.ts';
import { accountOf, normaliseUsername } from '../store/users.ts';

/*
 * The administration operations behind `npm run admin` (API.md "Administration"): thin over the same stores and
 * rules as the HTTP operations (a `disable` or `revoke-sessions` is the very whole-user revocation of
 * logout-all), grouped in one module because they share the lookup of a user by name. None returns a password
 * hash or a token.
 */

/** What an administrator sees of a user: never a hash or a token. */
export interface UserSummary {
  userId: string;
  username: string;
  /** ISO 8601 UTC, or `null` for an account registered before it was recorded. */
  createdAt: string | null;
  roles: string[];
  disabled: boolean;
  /** ISO 8601 UTC while the name refuses password checks after failed logins, else `null`. */
  lockedUntil: string | null;
  /** Failed logins for the name in its current hourly period, from all addresses. */
  failedLogins: number;
  /** The second factors a login of the user needs one of (`[]`: none). */
  secondFactors: SecondFactorMethod[];
}

const iso = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString();

async function findUser(services: Services, rawUsername: string) {
  const username = normaliseUsername(rawUsername);
  const lock = username ? await services.attempts.nameState(username) : undefined;
  const account = accountOf(lock?.item);
  const unknown = () => new ApiError('not_found', { message: `No user "${rawUsername}".` });
  if (!account || !lock) throw unknown();
  const state = await services.accounts.getAccount(account.userId);
  if (state.deleted) throw unknown();
  return { lock, account, state };
}

function summary(
  services: Services,
  found: Awaited<ReturnType<typeof findUser>>,
  state: AccountState = found.state,
): UserSummary {
  const now = nowSeconds();
  // A check from an address the name has no failures from: what every lock of the name itself still refuses.
  const wait = nameWait(found.lock, '', now, services.attempts.policy);
  const createdAt = found.lock.item?.createdAt;
  return {
    userId: found.account.userId,
    username: found.account.username,
    createdAt: typeof createdAt === 'number' ? iso(createdAt) : null,
    roles: state.roles,
    disabled: state.disabled,
    lockedUntil: wait > 0 ? iso(now + wait) : null,
    failedLogins: found.lock.hourCount,
    secondFactors: found.account.secondFactorMethods,
  };
}

/** Every registered account (a table scan), by username. */
export async function listUsers(services: Services): Promise<{ userId: string; username: string }[]> {
  return (await services.users.listAccounts()).map(({ userId, username }) => ({ userId, username }));
}

/** One user's summary. Errors: `not_found` for an unknown (or deleted) user. */
export async function showUser(services: Services, username: string): Promise<UserSummary> {
  return summary(services, await findUser(services, username));
}

/**
 * Disables a user: every session revoked at once (the whole-user revocation of logout-all) and the disabled flag
 * set, in one write; its logins then get `403 account_disabled` for the right password.
 */
export async function disableUser(services: Services, username: string): Promise<UserSummary> {
  const found = await findUser(services, username);
  return summary(
    services,
    found,
    await services.accounts.revokeAllSessions(found.account.userId, { disabled: true }),
  );
}

/** Enables a disabled user again (the sessions it had stay revoked). */
export async function enableUser(services: Services, username: string): Promise<UserSummary> {
  const found = await findUser(services, username);
  return summary(services, found, await services.accounts.enable(found.account.userId));
}

/** Lifts a lockout by failed logins: the name's check slots and failure counts are cleared. */
export async function unlockUser(services: Services, username: string): Promise<UserSummary> {
  const found = await findUser(services, username);
  await services.attempts.unlock(found.account.username);
  return { ...summary(services, found), lockedUntil: null, failedLogins: 0 };
}

/** Revokes every session of a user at once (what the user's own logout-all does). */
export async function revokeUserSessions(services: Services, username: string): Promise<UserSummary> {
  const found = await findUser(services, username);
  return summary(services, found, await services.accounts.revokeAllSessions(found.account.userId));
}

/**
 * Adds and removes roles; tokens carry them from the user's next login or refresh. Errors: `invalid_request` for
 * a role name outside `ROLE_PATTERN`, `not_found` for an unknown user.
 */
export async function updateUserRoles(
  services: Services,
  username: string,
  change: { add: string[]; remove: string[] },
): Promise<UserSummary> {
  for (const role of [...change.add, ...change.remove]) {
    if (!ROLE_PATTERN.test(role)) {
      throw new ApiError('invalid_request', {
        message: `"${role}" is not a role name (1-64 characters of a-z 0-9 : . _ -, no comma).`,
      });
    }
  }
  const found = await findUser(services, username);
  return summary(services, found, await services.accounts.updateRoles(found.account.userId, change));
}

/**
 * Removes every second factor of a user who lost them (`mfa-reset`): TOTP (on or pending), the recovery codes and
 * the passkeys, then revokes every session at once, so that whoever held a session opened with the lost factor is out. The
 * next login needs only the password. Errors: `not_found` for an unknown user.
 */
export async function resetSecondFactors(services: Services, username: string): Promise<UserSummary> {
  const found = await findUser(services, username);
  const { userId, username: name } = found.account;
  if (!(await services.secondFactors.removeTotp(name, userId)))
    throw new ApiError('not_found', { message: `No user "${username}".` });
  await services.passkeys.removeAll(userId);
  const state = await services.accounts.revokeAllSessions(userId);
  return { ...summary(services, found, state), secondFactors: [] };
}
