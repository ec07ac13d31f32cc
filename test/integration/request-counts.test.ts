import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import { CHECK_LEASE } from '../../lib/store/lockout-policy.ts';
import { useFakeClock } from '../support/clock.ts';
import { countRequests, functionClients, type RequestCounter } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// The DynamoDB request budget of each flow (bench/requests.ts has the same table), counted at the functions' own SDK client.
const MAX_FAILURES = 5;
const LEASE_AND_BASE = Math.max(CHECK_LEASE, 30) + 1;
let service: TestService;
let counter: RequestCounter;
const clock = useFakeClock();
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_LOCKOUT_BASE: '30' });
  counter = countRequests(functionClients());
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
  it('a login: 5 requests when clean, 4 for a wrong password, 6 for a success that clears failures, 1-3 for a 429', async () => {
    // Each login below happens once the slots of earlier checks have lapsed (LOGIN_LOCKOUT_BASE for a failure,
    // the check lease for a login): a slot that is still held costs a re-read and a second try.
    const lapse = () => clock.advance(LEASE_AND_BASE);
    await service.post('/auth/register', { username: 'count-login', password: DEFAULT_PASSWORD });
    // The address's count (read), a check slot taken with the account read back, the account state (roles,
    // disabled, generation, with the hash that decides), the new device token, the session.
    expect(await sent(() => service.login('count-login'), 200)).toEqual([
      'GetItem',
      'GetItem',
      'PutItem',
      'PutItem',
      'UpdateItem',
    ]);
    lapse();
    // ...and for a wrong password: the address read, the slot, the name's and the address's failure counts.
    const wrong = ['GetItem', 'UpdateItem', 'UpdateItem', 'UpdateItem'];
    expect(await sent(() => service.login('count-login', 'not the password'), 401)).toEqual(wrong);
    expect(await sent(() => service.login('count-nobody', 'not the password'), 401)).toEqual(wrong);
    lapse();
    // A success after a failure also clears it: one more write.
    expect(await sent(() => service.login('count-login'), 200)).toEqual([
      'GetItem',
      'GetItem',
      'PutItem',
      'PutItem',
      'UpdateItem',
      'UpdateItem',
    ]);
    // Locked: the pair's lock refuses the slot; one read says for how long.
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('count-login', 'not the password');
    expect(await sent(() => service.login('count-login'), 429)).toEqual(['GetItem', 'GetItem', 'UpdateItem']);
  });

  it('a login from a known device: 4 requests when right, 2 when wrong (below the limit), none of them the name’s', async () => {
    await service.post('/auth/register', { username: 'count-device', password: DEFAULT_PASSWORD });
    const { deviceToken } = (await service.login('count-device')).json;
    const fromDevice = (password: string) =>
      service.post('/auth/login', { username: 'count-device', password, deviceToken });
    // The device, the name's item and the account in one read; the device's own count reserved; the session;
    // the count cleared (and the device's life extended).
    expect(await sent(() => fromDevice(DEFAULT_PASSWORD), 200)).toEqual([
      'BatchGetItem',
      'PutItem',
      'UpdateItem',
      'UpdateItem',
    ]);
    // A wrong password: the read and the reservation, which is the count.
    expect(await sent(() => fromDevice('not the password'), 401)).toEqual(['BatchGetItem', 'UpdateItem']);
  });

  it('the second step of a login from a known device: 8 requests, none of them the name’s, the pair’s or the address’s', async () => {
    const tokens = await service.signUp('count-device-mfa');
    const deviceToken = tokens.deviceToken;
    const started = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    const code = totpCodeAt(started.json.secret, totpStepAt(Date.now()));
    const confirmed = await service.post('/auth/mfa/totp/confirm', { code }, bearer(tokens.accessToken));
    const [recoveryCode] = confirmed.json.recoveryCodes;
    const first = await service.post('/auth/login', {
      username: 'count-device-mfa',
      password: DEFAULT_PASSWORD,
      deviceToken,
    });
    expect(first.json.error).toBe('mfa_required');
    // The challenge; the device, the name's item and the account in one read; the device's own count reserved;
    // the recovery code used up; the count cleared; the challenge used up; the account state; the session.
    expect(
      await sent(
        () => service.post('/auth/login/mfa', { mfaToken: first.json.mfaToken, recoveryCode, deviceToken }),
        200,
      ),
    ).toEqual([
      'BatchGetItem',
      'GetItem',
      'GetItem',
      'PutItem',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
    ]);
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

  it('a password change is the authentication read, the password check on the session (a read and two writes) and three writes', async () => {
    const last = await withSessions('count-password', 3);
    // The logins' check slots lapse first, so the check takes a free slot at its first try.
    clock.advance(LEASE_AND_BASE);
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
    ).toEqual([
      'BatchGetItem',
      'BatchGetItem',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
    ]);
  });

  it('an account deletion is the reads, the password check, one query, the commit write and one delete per item', async () => {
    const last = await withSessions('count-delete', 2);
    clock.advance(LEASE_AND_BASE);
    expect(
      await sent(
        () =>
          service.request('DELETE', '/auth/account', {
            body: { password: DEFAULT_PASSWORD },
            headers: bearer(last.accessToken),
          }),
        204,
      ),
    ).toEqual([
      'BatchGetItem',
      'BatchGetItem',
      // The name's item, the passkeys' item, and the two sessions.
      'DeleteItem',
      'DeleteItem',
      'DeleteItem',
      'DeleteItem',
      'Query',
      'UpdateItem',
      'UpdateItem',
      'UpdateItem',
    ]);
  });
});
