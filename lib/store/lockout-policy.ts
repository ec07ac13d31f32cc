/* Pure: the brute-force policy's arithmetic, without the SDK. */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The unit a client address is counted in (API.md "Brute force": client addresses are counted per IPv6 /64):
 * an IPv4 address as it is; an IPv6 address as its /64 prefix (`2001:db8:1:2::/64`), since one subscriber (and
 * on AWS one instance) is handed a whole /64 and could otherwise spread its guesses over 2^64 addresses. An
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) counts as its IPv4 address; a zone index is ignored. Anything
 * else (no address: a local call) is counted as it is.
 */
export function clientAddressKey(address: string): string {
  const plain = address.trim().toLowerCase().split('%')[0] ?? '';
  if (isIPv4(plain)) return plain;
  if (!isIPv6(plain)) return address;
  const groups = ipv6Groups(plain);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, an IPv4 tail turned into two groups). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = text.match(/(\d+\.\d+\.\d+\.\d+)$/)?.[1];
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...Array.from({ length: 8 - front.length - back.length }, () => 0), ...back];
}

/**
 * The brute-force policy (API.md "Brute force"; OWASP ASVS 2.2.1; Auth0's per (account, address) blocking with an
 * account-wide ceiling). All times are epoch seconds, all durations seconds.
 */
export interface LockoutPolicy {
  /** `LOGIN_MAX_FAILURES`: password checks a name admits at once or within `lockoutBase` of its failures. */
  maxFailures: number;
  /** `LOGIN_LOCKOUT_BASE`: the first lock; it doubles with each further failure, up to `lockoutMax`. */
  lockoutBase: number;
  lockoutMax: number;
  /** `LOGIN_FAILURE_WINDOW`: a (name, address) or address count older than this starts again. */
  failureWindow: number;
  /** `LOGIN_ADDRESS_MAX_FAILURES`: failures one address may make over all names in a window before its lock. */
  addressMaxFailures: number;
}

/** Failed checks a name gets in any hour from all addresses together (API.md: never more than 100). */
export const NAME_FAILURES_PER_HOUR = 100;

/**
 * Seconds a check slot stays held while its password is checked, if the check never reports back: longer than
 * any login can run (the login function's timeout is 10 s), so a slot is never taken from a check still running.
 */
export const CHECK_LEASE = 30;

/** A failure count with its growing lock: of a (name, address) pair or of an address. */
export interface FailureCount {
  failures: number;
  lastFailedAt: number;
  lockedUntil: number;
}

/** Lock seconds after the `failures`-th failure: none below `threshold`, then `base` doubling up to `max`. */
export function lockSeconds(failures: number, threshold: number, base: number, max: number): number {
  if (failures < threshold) return 0;
  return Math.min(base * 2 ** (failures - threshold), max);
}

/** A count after one more failure at `now`: a count whose last failure is older than `window` starts again. */
export function countFailure(
  previous: FailureCount | undefined,
  now: number,
  window: number,
  threshold: number,
  policy: Pick<LockoutPolicy, 'lockoutBase' | 'lockoutMax'>,
): FailureCount {
  const failures = previous && now - previous.lastFailedAt <= window ? previous.failures + 1 : 1;
  const lock = lockSeconds(failures, threshold, policy.lockoutBase, policy.lockoutMax);
  return {
    failures,
    lastFailedAt: now,
    lockedUntil: Math.max(previous?.lockedUntil ?? 0, lock > 0 ? now + lock : 0),
  };
}

/** Seconds until an address may have passwords checked again (0: now), from its failure count. */
export function addressWait(count: FailureCount | undefined, now: number, policy: LockoutPolicy): number {
  if (!count || now - count.lastFailedAt > policy.failureWindow) return 0;
  const lock = lockSeconds(count.failures, policy.addressMaxFailures, policy.lockoutBase, policy.lockoutMax);
  return Math.max(0, count.lastFailedAt + lock - now);
}

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/** A failure count as stored (`{f, t, l}`: failures, last failure, locked until), or `undefined`. */
export function readCount(value: unknown): FailureCount | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const stored = value as Record<string, unknown>;
  return { failures: num(stored.f), lastFailedAt: num(stored.t), lockedUntil: num(stored.l) };
}

/** The stored form of a failure count. */
export const storedCount = (count: FailureCount) => ({
  f: count.failures,
  t: count.lastFailedAt,
  l: count.lockedUntil,
});

/**
 * A password check judged by a credential's own failure count rather than the name's (API.md "Known devices": a
 * known device's login, a re-entry of the password from a live session): whether it may run now, and if so the
 * count to store before it runs. The check is counted as a failure from the start and a success clears the count,
 * so of any number of concurrent checks at most `maxFailures` run before the count locks: the check that
 * reaches the limit also holds a provisional lock of {@link CHECK_LEASE} until its outcome replaces it. A
 * count whose last failure is older than `failureWindow` starts again.
 */
export function reserveOwnCheck(
  seen: FailureCount | undefined,
  now: number,
  policy: LockoutPolicy,
): { wait: number } | { reserved: FailureCount } {
  if (seen && seen.lockedUntil > now) return { wait: seen.lockedUntil - now };
  const failures = seen && now - seen.lastFailedAt <= policy.failureWindow ? seen.failures + 1 : 1;
  return {
    reserved: {
      failures,
      lastFailedAt: now,
      lockedUntil: failures >= policy.maxFailures ? now + CHECK_LEASE : 0,
    },
  };
}

/**
 * The lock a reserved check's failure leaves on its own count: none below `maxFailures`, then `lockoutBase`
 * doubling with each further failure up to `lockoutMax` (epoch seconds; 0 for none).
 */
export function ownLockAfterFailure(reserved: FailureCount, now: number, policy: LockoutPolicy): number {
  const lock = lockSeconds(reserved.failures, policy.maxFailures, policy.lockoutBase, policy.lockoutMax);
  return lock > 0 ? now + lock : 0;
}

/** One of a name's `maxFailures` check slots: held by a check in progress (a lease) or by a recent failure. */
export interface Slot {
  /** Held until then; free from then on. */
  until: number;
  /** Who holds it: the check that took it (a random token). */
  holder: string;
  /** Held by a failure (cleared by the owner's next successful login) rather than by a check in progress. */
  failed: boolean;
}

/**
 * The lockout state kept on a username's item (`user#<name>`), for registered and unknown names alike:
 * - `slot0..slot{N-1}`: a name admits a password check only by taking a free slot with a conditional write, and
 *   a failed check keeps its slot for `lockoutBase` seconds: so of any number of concurrent guesses at most N
 *   are checked, and failures from anywhere hold the name for at most `lockoutBase` after they stop.
 * - `pairs.<address>`: the failure count and growing lock of each (name, address) pair.
 * - `hourCount`/`hourUntil`: failures from all addresses in the current period, which ends an hour after its
 *   last failure; a name is refused while a full set of slots could take it past {@link NAME_FAILURES_PER_HOUR}.
 * (Read out of the item by `nameState` in `name-item.ts`.)
 */
export interface NameState {
  /** The whole stored item (the account's attributes are read from it by the user store). */
  item: Record<string, unknown> | undefined;
  slots: Slot[];
  pairs: Record<string, FailureCount>;
  pairsStored: boolean;
  hourCount: number;
  hourUntil: number;
}

/**
 * Seconds until `address` may have a password checked for this name (0: now). Mirrors the admission's
 * condition: the pair's lock, the hourly ceiling, and a free slot.
 */
export function nameWait(state: NameState, address: string, now: number, policy: LockoutPolicy): number {
  const slotsWait = state.slots.every((slot) => slot.until > now)
    ? Math.min(...state.slots.map((slot) => slot.until)) - now
    : 0;
  return Math.max(pairAndHourWait(state, address, now, policy), slotsWait);
}

/** The part of {@link nameWait} that no free slot can shorten: the pair's lock and the hourly ceiling. */
export function pairAndHourWait(
  state: NameState,
  address: string,
  now: number,
  policy: LockoutPolicy,
): number {
  const waits = [0];
  const pair = state.pairs[address];
  if (pair && pair.lockedUntil > now) waits.push(pair.lockedUntil - now);
  if (state.hourUntil > now && state.hourCount > hourRoom(policy)) waits.push(state.hourUntil - now);
  return Math.max(...waits);
}

/**
 * The most failures a name may have in its hourly period and still admit a check: even if every slot's check
 * then fails, the period stays within {@link NAME_FAILURES_PER_HOUR}.
 */
export const hourRoom = (policy: LockoutPolicy) => Math.max(0, NAME_FAILURES_PER_HOUR - policy.maxFailures);
