import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary, runLoad } from '../../bench/load.ts';
import { type HttpTestService, startHttpTestService } from '../support/service.ts';

// The short CI version of `npm run load` (which runs 60 s and more): the same mixed workload and the same
// invariants, checked from the store afterwards. Bounded by a number of requests, not by a time window, so
// that a busy machine makes it slower, never weaker; the service hashes passwords at the test tier's cost.
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

describe('a mixed load run against the local server', () => {
  it('keeps every invariant: one current hash per session, revoked tokens refused, new pairs = rotations, no 5xx', async () => {
    // The time cap is a deadline far beyond what 400 requests need even on a busy machine (~60 s seen).
    const summary = await runLoad({ durationSeconds: 240, concurrency: 8, maxRequests: 400 }, service.server);
    expect(summary.requests).toBeGreaterThanOrEqual(400); // the bound reached, not the time cap
    expect(summary.violations, formatSummary(summary)).toEqual([]);
    expect(summary.serverErrors).toBe(0);
    expect(summary.rotationsWritten).toBe(summary.refreshOk);
    expect(summary.sessionsStored).toBe(summary.sessionsCreated);
    // The run exercised what it claims to: rotations, races, retries, replays and logouts all happened.
    for (const key of [
      'refresh 200',
      'refresh-race 200',
      'refresh-lost-retry 200',
      'logout 204',
      'register 201',
    ]) {
      expect(summary.statuses[key] ?? 0, key).toBeGreaterThan(0);
    }
    expect(summary.revokedChecked).toBeGreaterThan(0);
  }, 300_000);
});
