import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { storeReader } from '../support/store.ts';

// The key ring is cached for one second; the fake clock steps past it, so a cache refresh needs no wait.
const KEY_CACHE_MAX_AGE = 1;
let service: TestService;

beforeAll(async () => {
  // SSM is down from the start: the functions' cold start (the authorizer reads the ring during init) meets it.
  service = await startTestService({ KEY_CACHE_MAX_AGE: String(KEY_CACHE_MAX_AGE) }, { ssmFault: 503 });
});
afterAll(() => service.close());
const clock = useFakeClock();

function expectServiceUnavailable(response: { status: number; headers: Headers; json: any }) {
  expect(response.status).toBe(503);
  expect(response.json?.error).toBe('service_unavailable');
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(response.json).not.toHaveProperty('accessToken');
}

// One file, in order: the functions' key cache is per process, so the cold start must come first.
describe('SSM Parameter Store unavailable', () => {
  it('at cold start: the functions load, login and refresh answer 503, the authorizer refuses, nothing is written, and service resumes without a restart', async () => {
    const registered = await service.post('/auth/register', {
      username: 'ssm-cold',
      password: 'correct horse battery staple',
    });
    expect(registered.status).toBe(201); // registering needs no signing key
    expect(service.server.ssm.calls).toBe(0); // no read has succeeded yet: the init's read failed

    expectServiceUnavailable(await service.login('ssm-cold'));
    const refused = await service.me('x.y.z');
    expect(refused.status).toBe(401);
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: 'x.y.z' }));
    expectServiceUnavailable(await service.post('/auth/logout', { refreshToken: 'x.y.z' }));
    const store = storeReader(service.server.dynamoDbEndpoint);
    try {
      expect(await store.sessionsOf(registered.json.userId)).toHaveLength(0);
    } finally {
      store.close();
    }
    expect((await service.storedItem('user#ssm-cold'))?.failedCount ?? 0).toBe(0);

    service.server.ssm.failWith(undefined);
    const loggedIn = await service.login('ssm-cold');
    expect(loggedIn.status).toBe(200);
    expect((await service.me(loggedIn.json.accessToken)).status).toBe(200);
  });

  it('during a cache refresh: the authorizer refuses and the functions answer 503, then recover without a restart', async () => {
    const tokens = await service.signUp('ssm-warm');
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    const readsBefore = service.server.ssm.calls;
    clock.advance(KEY_CACHE_MAX_AGE + 1); // the cached ring is now stale
    service.server.ssm.failWith(500);

    const refused = await service.me(tokens.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ message: 'Unauthorized' });
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
    expectServiceUnavailable(await service.login('ssm-warm'));
    // The failed refresh rotated nothing: the token is still the session's current one.
    service.server.ssm.failWith(undefined);
    const refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    expect((await service.me(refreshed.json.accessToken)).status).toBe(200);
    expect(service.server.ssm.calls).toBeGreaterThan(readsBefore);
  });
});
