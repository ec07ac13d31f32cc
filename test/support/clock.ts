import { afterEach, beforeEach, vi } from 'vitest';

/**
 * Fakes only `Date` (not timers, so I/O and the SDK keep working) for each test of the file; `advance(seconds)`
 * moves it forward. The clock never goes back, across tests either: each test starts at the real time or
 * where the previous one left it, whichever is later, so no token or cache entry is ever from the future.
 * The service runs in-process, so it sees the same clock.
 */
export function useFakeClock(): { advance(seconds: number): void } {
  let leftAt = 0;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: Math.max(Date.now(), leftAt) });
  });
  afterEach(() => {
    leftAt = Date.now();
    vi.useRealTimers();
  });
  return {
    advance(seconds) {
      vi.setSystemTime(Date.now() + seconds * 1000);
    },
  };
}
