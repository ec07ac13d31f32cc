import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressWait,
  countFailure,
  type LockoutPolicy,
  lockSeconds,
  NAME_FAILURES_PER_HOUR,
  nameState,
  nameWait,
} from '../../lib/store/login-attempts.ts';

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
