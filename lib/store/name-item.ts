/* The item under a username (`user#<name>`) read and keyed, without a client of its own. It holds the account
   registered under the name, if any (with its second factors), and the name's lockout state, for registered and
   unknown names alike (so that a lockout says nothing about who exists). */
import { type FailureCount, type NameState, readCount, type Slot } from './lockout-policy.ts';
import { tableSchema } from './schema.ts';
import { type SecondFactorMethod, secondFactorMethods, secondFactorsOf } from './second-factors.ts';

/** The key of a username's item (`user#<normalised name>`): the account, and the name's lockout state. */
export const userKey = (username: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.user}${username}`,
});

/** A registered account, as stored under its normalised username. */
export interface UserAccount {
  userId: string;
  username: string;
  passwordHash: string;
  /** The account's e-mail address (stored form, see `normaliseEmail`), or `undefined` when it has none. */
  email?: string;
  /** Whether a link sent to {@link UserAccount.email} was opened (or a reset proved it): `false` without one. */
  emailVerified: boolean;
  /** The second factors a login of this account must complete with one of (`[]`: none; `second-factors.ts`). */
  secondFactorMethods: SecondFactorMethod[];
  /** Unused recovery codes (`GET /auth/account`'s `mfa.recoveryCodesLeft`). */
  recoveryCodesLeft: number;
  /**
   * Whether the account may have passkeys (a registration was begun once): then a login reads them, and offers
   * `passkey` as a second factor when there is one (`secondFactorMethodsOf`).
   */
  mayHavePasskeys: boolean;
}

/** The account an item under a username holds, or `undefined` for an unregistered name (or no item). */
export function accountOf(stored: Record<string, unknown> | undefined): UserAccount | undefined {
  if (
    typeof stored?.passwordHash !== 'string' ||
    typeof stored.userId !== 'string' ||
    typeof stored.username !== 'string'
  )
    return undefined;
  return {
    userId: stored.userId,
    username: stored.username,
    passwordHash: stored.passwordHash,
    ...(typeof stored.email === 'string' && { email: stored.email }),
    emailVerified: typeof stored.email === 'string' && stored.emailVerified === true,
    secondFactorMethods: secondFactorMethods(stored),
    recoveryCodesLeft: secondFactorsOf(stored).recoveryCodeHashes.length,
    mayHavePasskeys: secondFactorsOf(stored).mayHavePasskeys,
  };
}

/** The attribute of a name's check slot `index`. */
export const slotName = (index: number) => `slot${index}`;
const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/** Reads the lockout state out of a stored user item (`undefined` when there is none). */
export function nameState(item: Record<string, unknown> | undefined, slotCount: number): NameState {
  const slots: Slot[] = [];
  for (let index = 0; index < slotCount; index += 1) {
    const stored = item?.[slotName(index)] as Record<string, unknown> | undefined;
    slots.push({
      until: num(stored?.u),
      holder: typeof stored?.h === 'string' ? stored.h : '',
      failed: stored?.f === true,
    });
  }
  const pairs: Record<string, FailureCount> = {};
  const storedPairs = item?.pairs;
  if (typeof storedPairs === 'object' && storedPairs !== null) {
    for (const [address, value] of Object.entries(storedPairs)) {
      const count = readCount(value);
      if (count) pairs[address] = count;
    }
  }
  return {
    item,
    slots,
    pairs,
    pairsStored: typeof storedPairs === 'object' && storedPairs !== null,
    hourCount: num(item?.hourCount),
    hourUntil: num(item?.hourUntil),
  };
}
