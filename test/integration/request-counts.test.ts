import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { countRequests, type RequestCounter } from '../support/sdk-middleware.ts';
import { startTestService, type TestService } from '../support/service.ts';

// The DynamoDB request budget of each flow (issue 4), counted at the functions' own SDK client.
let service: TestService;
let counter: RequestCounter;
beforeAll(async () => {
  service = await startTestService();
  counter = countRequests(defaultServices().db);
});
afterAll(() => service.close());

async function sent(flow: () => Promise<{ status: number }>, status: number): Promise<string[]> {
  counter.reset();
  expect((await flow()).status).toBe(status);
  return [...counter.sent].sort();
}

describe('DynamoDB requests per flow', () => {
  it('a successful login reads the user and writes the session: 2 requests', async () => {
    await service.post('/auth/register', {
      username: 'count-login',
      password: 'correct horse battery staple',
    });
    expect(await sent(() => service.login('count-login'), 200)).toEqual(['GetItem', 'PutItem']);
  });

  it('the authorizer reads the session once; a refresh is one conditional write, its retry that write and a read; a logout one write', async () => {
    const tokens = await service.signUp('count-flows');
    expect(await sent(() => service.me(tokens.accessToken), 200)).toEqual(['GetItem']);
    let refreshed: any;
    expect(
      await sent(async () => {
        refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
        return refreshed;
      }, 200),
    ).toEqual(['UpdateItem']);
    // The retry path: its write fails its condition, one read finds the sealed pair; nothing is written.
    expect(
      await sent(async () => {
        const retried = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
        expect(retried.json.refreshToken).toBe(refreshed.json.refreshToken);
        return retried;
      }, 200),
    ).toEqual(['GetItem', 'UpdateItem']);
    expect(counter.applied()).toEqual({ GetItem: 1 });
    expect(
      await sent(
        () =>
          service.post('/auth/logout', undefined, { authorization: `Bearer ${refreshed.json.accessToken}` }),
        204,
      ),
    ).toEqual(['UpdateItem']);
  });

  it('logout-all is one query and one write per live session', async () => {
    await service.signUp('count-all');
    await service.login('count-all');
    const last = await service.login('count-all');
    expect(
      await sent(
        () =>
          service.post('/auth/logout-all', undefined, { authorization: `Bearer ${last.json.accessToken}` }),
        204,
      ),
    ).toEqual(['Query', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
  });
});
