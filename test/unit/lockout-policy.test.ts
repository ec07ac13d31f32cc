import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressWait,
  clientAddressKey,
  countFailure,
  type LockoutPolicy,
  lockSeconds,
  NAME_FAILURES_PER_HOUR,
  nameWait,
} from '../../lib/store/lockout-policy.ts';
import { nameState } from '../../lib/store/name-item.ts';

const policy: LockoutPolicy = {
  maxFailures: 5,
  lockoutBase: 30,
  lockoutMax: 900,
  failureWindow: 900,
  addressMaxFailures: 100,
};

describe('lockSeconds', () => {
  it('is none below the threshold, the base at it, then doubles up to the ceiling and never shrinks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 20 }), (failures, threshold) => {
        const lock = lockSeconds(failures, threshold, 30, 900);
        if (failures < threshold) expect(lock).toBe(0);
        else expect(lock).toBe(Math.min(30 * 2 ** (failures - threshold), 900));
        expect(lockSeconds(failures + 1, threshold, 30, 900)).toBeGreaterThanOrEqual(lock);
        expect(lock).toBeLessThanOrEqual(900);
      }),
    );
  });
});

describe('countFailure', () => {
  it('adds one within the window, starts again after it, and never shortens a lock', () => {
    fc.assert(
      fc.property(
        fc.option(
          fc.record({
            failures: fc.integer({ min: 1, max: 30 }),
            lastFailedAt: fc.integer({ min: 0, max: 10_000 }),
            lockedUntil: fc.integer({ min: 0, max: 12_000 }),
          }),
          { nil: undefined },
        ),
        fc.integer({ min: 0, max: 5_000 }),
        (previous, after) => {
          const now = (previous?.lastFailedAt ?? 0) + after;
          const next = countFailure(previous, now, policy.failureWindow, policy.maxFailures, policy);
          const continues = previous !== undefined && after <= policy.failureWindow;
          expect(next.failures).toBe(continues ? (previous?.failures ?? 0) + 1 : 1);
          expect(next.lastFailedAt).toBe(now);
          expect(next.lockedUntil).toBeGreaterThanOrEqual(previous?.lockedUntil ?? 0);
          const lock = lockSeconds(next.failures, policy.maxFailures, policy.lockoutBase, policy.lockoutMax);
          if (lock > 0) expect(next.lockedUntil).toBeGreaterThanOrEqual(now + lock);
        },
      ),
    );
  });
});

describe('nameWait', () => {
  const slot = (until: number, failed = false) => ({ u: until, h: 'holder', f: failed });

  it('is zero exactly when a slot is free, the pair is not locked and the hour has room', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 5, maxLength: 5 }),
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 0, max: NAME_FAILURES_PER_HOUR }),
        fc.integer({ min: 0, max: 5_000 }),
        (slotUntils, pairLock, hourCount, hourUntil) => {
          const now = 1_000;
          const item: Record<string, unknown> = {
            pairs: { '198.51.100.1': { f: 5, t: now - 1, l: pairLock } },
            hourCount,
            hourUntil,
          };
          for (const [index, until] of slotUntils.entries()) item[`slot${index}`] = slot(until);
          const state = nameState(item, 5);
          const wait = nameWait(state, '198.51.100.1', now, policy);
          const admissible =
            slotUntils.some((until) => until <= now) &&
            pairLock <= now &&
            (hourUntil <= now || hourCount <= NAME_FAILURES_PER_HOUR - policy.maxFailures);
          expect(wait === 0).toBe(admissible);
          if (!admissible) expect(wait).toBeGreaterThan(0);
          // Another address is held back by neither this pair's lock nor anything of its own.
          expect(nameWait(state, '203.0.113.9', now, policy)).toBeLessThanOrEqual(wait);
        },
      ),
    );
  });
});

describe('addressWait', () => {
  it('holds an address from LOGIN_ADDRESS_MAX_FAILURES failures on, for a lock that grows, within the window', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 140 }), fc.integer({ min: 0, max: 2_000 }), (failures, age) => {
        const now = 10_000;
        const wait = addressWait({ failures, lastFailedAt: now - age, lockedUntil: 0 }, now, policy);
        const lock = lockSeconds(failures, policy.addressMaxFailures, policy.lockoutBase, policy.lockoutMax);
        expect(wait).toBe(age > policy.failureWindow ? 0 : Math.max(0, lock - age));
      }),
    );
  });
});

describe('clientAddressKey: the unit client addresses are counted in', () => {
  it('is an IPv6 address’s /64, however the address is written', () => {
    for (const written of [
      '2001:db8:1:2::1',
      '2001:0db8:0001:0002:0000:0000:0000:0001',
      '2001:DB8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:a:b:c:d%eth0',
      '2001:db8:1:2::192.0.2.1',
    ])
      expect(clientAddressKey(written), written).toBe('2001:db8:1:2::/64');
    expect(clientAddressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
  });

  it('is an IPv4 address itself, also when mapped into IPv6; anything else is kept as it is', () => {
    expect(clientAddressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientAddressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientAddressKey('::ffff:c000:207')).toBe('192.0.2.7');
    expect(clientAddressKey('')).toBe('');
    expect(clientAddressKey('not an address')).toBe('not an address');
  });

  it('any two addresses share a key exactly when they share the first 64 bits (IPv6) or are equal (IPv4)', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const groups = fc.array(group, { minLength: 8, maxLength: 8 });
    const text = (g: number[]) => g.map((n) => n.toString(16)).join(':');
    fc.assert(
      fc.property(groups, groups, (a, b) => {
        // IPv4-mapped addresses are counted as IPv4: leave that prefix out of this comparison.
        fc.pre(!(a.slice(0, 6).join() === '0,0,0,0,0,65535' || b.slice(0, 6).join() === '0,0,0,0,0,65535'));
        const same = clientAddressKey(text(a)) === clientAddressKey(text(b));
        expect(same).toBe(a.slice(0, 4).join() === b.slice(0, 4).join());
      }),
    );
  });
});
