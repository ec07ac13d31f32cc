import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureEmfLines, type EmfCapture, sumMetrics } from '../support/emf.ts';
import { startTestService, type TestService } from '../support/service.ts';

/**
 * The EMF metrics each flow emits, read back from what the functions print (CloudWatch turns these lines into
 * metrics in the AuthService namespace; the stack alarms on RefreshTokenReuse).
 */
let service: TestService;
let emf: EmfCapture;

beforeAll(async () => {
  emf = captureEmfLines();
  // The suite keeps EMF lines off (vitest.config.ts); this file reads them.
  service = await startTestService({ LOGIN_MAX_FAILURES: '2', POWERTOOLS_METRICS_DISABLED: 'false' });
});

afterAll(async () => {
  emf.restore();
  await service?.close();
});

/** Sums each metric over the EMF lines printed since `from` (an offset into the captured output). */
function countsSince(from: number): Record<string, number> {
  const records = emf.recordsSince(from);
  for (const record of records) {
    expect(record._aws.CloudWatchMetrics[0]?.Namespace).toBe('AuthService');
    expect(record.service).toBe('auth-service');
  }
  return sumMetrics(records);
}

describe('metrics', () => {
  it('count logins, failed logins and lockout 429s', async () => {
    expect(
      (await service.post('/auth/register', { username: 'metered', password: 'quiet river stones' })).status,
    ).toBe(201);
    const from = emf.mark();
    expect((await service.login('metered', 'quiet river stones')).status).toBe(200);
    expect((await service.login('metered', 'not the password')).status).toBe(401);
    expect((await service.login('metered', 'not the password')).status).toBe(401);
    expect((await service.login('metered', 'quiet river stones')).status).toBe(429);
    expect(countsSince(from)).toEqual({ Logins: 1, FailedLogins: 2, Throttles: 1 });
  });

  it('count refreshes, retries answered again and reuse detections', async () => {
    const tokens = await service.signUp('refresher');
    const from = emf.mark();
    const first = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    // The previous token again at once: a retry, answered with the same pair, not a rotation.
    expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(200);
    const second = await service.post('/auth/refresh', { refreshToken: first.json.refreshToken });
    expect(second.status).toBe(200);
    // Two rotations old: a replay, not a racing retry.
    expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(401);
    expect(countsSince(from)).toEqual({ Refreshes: 2, RefreshRetries: 1, RefreshTokenReuse: 1 });
  });

  it('count authorizer denials, and nothing for an allowed request', async () => {
    const tokens = await service.signUp('guarded');
    const from = emf.mark();
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    expect((await service.me('not-a-token')).status).toBe(401);
    expect(countsSince(from)).toEqual({ AuthorizerDenials: 1 });
  });
});
