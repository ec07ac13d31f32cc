import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, type HttpTestService, startHttpTestService } from '../support/service.ts';

// Over real HTTP: the local server itself, end to end (the rest of test/integration calls the handlers directly).
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

describe('a session from login to logout', () => {
  it('logs in, reaches /me, refreshes and is refused after logout', async () => {
    const tokens = await service.signUp('smoke-user');
    const me = await service.me(tokens.accessToken);
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      userId: claimsOf(tokens.accessToken).sub,
      username: 'smoke-user',
      sessionId: claimsOf(tokens.accessToken).sid,
      roles: [],
      amr: ['pwd'],
      authTime: claimsOf(tokens.accessToken).auth_time,
    });
    const refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    const logout = await service.post('/auth/logout', undefined, {
      authorization: `Bearer ${refreshed.json.accessToken}`,
    });
    expect(logout.status).toBe(204);
    expect((await service.me(refreshed.json.accessToken)).status).toBe(401);
  });
});
