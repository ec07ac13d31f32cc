import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { CHECK_LEASE } from '../../lib/store/login-attempts.ts';
import { useFakeClock } from '../support/clock.ts';
import { countRequests, type RequestCounter } from '../support/sdk-middleware.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// The DynamoDB request budget of each flow (issue 4), counted at the functions' own SDK client.
const MAX_FAILURES = 5;
const LEASE_AND_BASE = Math.max(CHECK_LEASE, 30) + 1;
let service: TestService;
let counter: RequestCounter;
const clock = useFakeClock();
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_LOCKOUT_BASE: '30' });
  counter = countRequests(defaultServices().db);
});
afterAll(() => service.close());

async function sent(flow: () => Promise<{ status: number }>, status: number): Promise<string[]> {
  counter.reset();
  expect((await flow()).status).toBe(status);
  return [...counter.sent].sort();
}

describe('DynamoDB requests per flow', () => {
  it('a login: 3 requests when clean, 4 for a wrong password, 4 for a success that clears failures, 1-3 for a 429', async () => {
    // Each login below happens once the slots of earlier checks have lapsed (LOGIN_LOCKOUT_BASE for a failure,
    // the check lease for a login): a slot that is still held costs a re-read and a second try.
    const lapse = () => clock.advance(LEASE_AND_BASE);
    await service.post('/auth/register', { username: 'count-login', password: DEFAULT_PASSWORD });
    // The address's count (read), a check slot taken with the account read back, the session.
    expect(await sent(() => service.login('count-login'), 200)).toEqual(['GetItem', 'PutItem', 'UpdateItem']);
    lapse();
    // ...and for a wrong password: the address read, the slot, the name's and the address's failure counts.
    const wrong = ['GetItem', 'UpdateItem', 'UpdateItem', 'UpdateItem'];
    expect(await sent(() => service.login('count-login', 'not the password'), 401)).toEqual(wrong);
    expect(await sent(() => service.login('count-nobody', 'not the password'), 401)).toEqual(wrong);
    lapse();
    // A success after a failure also clears it: one more write.
    expect(await sent(() => service.login('count-login'), 200)).toEqual([
      'GetItem',
      'PutItem',
      'UpdateItem',
      'UpdateItem',
    ]);
    // Locked: the pair's lock refuses the slot; one read says for how long.
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('count-login', 'not the password');
    expect(await sent(() => service.login('count-login'), 429)).toEqual(['GetItem', 'GetItem', 'UpdateItem']);
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
