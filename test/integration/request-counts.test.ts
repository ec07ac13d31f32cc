import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { countRequests, type RequestCounter } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// The DynamoDB request budget of each flow (issues 4 and 11), counted at the functions' own SDK client.
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

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Signs `name` up with `sessions` sessions; returns the last login's tokens. */
async function withSessions(name: string, sessions: number) {
  let last = await service.signUp(name);
  for (let i = 1; i < sessions; i += 1) last = (await service.login(name)).json;
  return last;
}

describe('DynamoDB requests per flow', () => {
  it('a successful login reads the user and its account, and writes the session: 3 requests', async () => {
    await service.post('/auth/register', { username: 'count-login', password: DEFAULT_PASSWORD });
    expect(await sent(() => service.login('count-login'), 200)).toEqual(['GetItem', 'GetItem', 'PutItem']);
  });

  it('the authorizer makes one request (session and account together); a refresh a read and a write, its retry that read alone; a logout one write', async () => {
    const tokens = await service.signUp('count-flows');
    expect(await sent(() => service.me(tokens.accessToken), 200)).toEqual(['BatchGetItem']);
    let refreshed: any;
    expect(
      await sent(async () => {
        refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
        return refreshed;
      }, 200),
    ).toEqual(['BatchGetItem', 'UpdateItem']);
    // The retry path: the read finds the presented token is the previous one and opens the sealed pair; nothing
    // is written.
    expect(
      await sent(async () => {
        const retried = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
        expect(retried.json.refreshToken).toBe(refreshed.json.refreshToken);
        return retried;
      }, 200),
    ).toEqual(['BatchGetItem']);
    expect(counter.applied()).toEqual({ BatchGetItem: 1 });
    expect(
      await sent(() => service.post('/auth/logout', undefined, bearer(refreshed.json.accessToken)), 204),
    ).toEqual(['UpdateItem']);
  });

  it('logout-all is one read and one write, whatever the number of sessions', async () => {
    for (const [name, sessions] of [
      ['count-all-1', 1],
      ['count-all-5', 5],
    ] as const) {
      const last = await withSessions(name, sessions);
      expect(
        await sent(() => service.post('/auth/logout-all', undefined, bearer(last.accessToken)), 204),
      ).toEqual(['BatchGetItem', 'UpdateItem']);
    }
  });

  it('listing sessions is the authentication read, one index query and one read of the others', async () => {
    const last = await withSessions('count-list', 3);
    expect(
      await sent(() => service.request('GET', '/auth/sessions', { headers: bearer(last.accessToken) }), 200),
    ).toEqual(['BatchGetItem', 'BatchGetItem', 'Query']);
  });

  it('revoking one session is the authentication read and one conditional write', async () => {
    const first = await service.signUp('count-revoke');
    const second = (await service.login('count-revoke')).json;
    const sid = claimsOf(first.accessToken).sid;
    expect(
      await sent(
        () => service.request('DELETE', `/auth/sessions/${sid}`, { headers: bearer(second.accessToken) }),
        204,
      ),
    ).toEqual(['BatchGetItem', 'UpdateItem']);
  });

  it('a password change is the authentication read, the password check and three writes', async () => {
    const last = await withSessions('count-password', 3);
    expect(
      await sent(
        () =>
          service.post(
            '/auth/password',
            { currentPassword: DEFAULT_PASSWORD, newPassword: 'an entirely new passphrase' },
            bearer(last.accessToken),
          ),
        204,
      ),
    ).toEqual(['BatchGetItem', 'GetItem', 'UpdateItem', 'UpdateItem', 'UpdateItem']);
  });

  it('an account deletion is the reads, one query, the commit write and one delete per item', async () => {
    const last = await withSessions('count-delete', 2);
    expect(
      await sent(
        () =>
          service.request('DELETE', '/auth/account', {
            body: { password: DEFAULT_PASSWORD },
            headers: bearer(last.accessToken),
          }),
        204,
      ),
    ).toEqual(['BatchGetItem', 'DeleteItem', 'DeleteItem', 'DeleteItem', 'GetItem', 'Query', 'UpdateItem']);
  });
});
