import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replacePassword } from '../../lib/operations/replace-password.ts';
import { defaultServices } from '../../lib/services.ts';
import { type HeldRequest, type Interleaver, interleaveRequests } from '../support/sdk-middleware.ts';
import {
  type ApiResponse,
  claimsOf,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
} from '../support/service.ts';

// API.md `POST /auth/password`: a login with the old password that overlaps a change (or a reset) never yields a
// session that is live once the change has been answered; the caller's session and sessions created with the
// new password are. Driven over every order the requests may reach the table in: the flows run at once and
// each DynamoDB request waits at a gate until fast-check's picks let it through.
const NEW_PASSWORD = 'an entirely new passphrase';

let service: TestService;
let gate: Interleaver;
beforeAll(async () => {
  // Enough check slots that the racing logins' own failures (a new password before the change) never lock.
  service = await startTestService({ LOGIN_MAX_FAILURES: '20' });
  gate = interleaveRequests(defaultServices().db);
});
afterAll(async () => {
  gate.remove();
  await service.close();
});

let users = 0;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const loginAs = (username: string, password: string, flow: number) =>
  service.request('POST', '/auth/login', {
    body: { username, password },
    sourceIp: `2001:db8:${users.toString(16)}::${flow}`,
  });

/** Picks from fast-check's choices, in turn: any order of the held requests can be drawn, and it shrinks. */
const picker = (choices: readonly number[]) => (held: readonly HeldRequest[], step: number) =>
  (choices[step % choices.length] ?? 0) % held.length;

/** Whether a login's session is live: its access token passes the authorizer and its refresh token refreshes. */
async function live(login: ApiResponse): Promise<boolean> {
  const me = await service.me(login.json.accessToken);
  const refreshed = await service.post('/auth/refresh', { refreshToken: login.json.refreshToken });
  expect(me.status === 200).toBe(refreshed.status === 200);
  return me.status === 200;
}

const interleavings = fc.record({
  choices: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 40 }),
  oldLogins: fc.integer({ min: 1, max: 3 }),
  newLogins: fc.integer({ min: 0, max: 1 }),
});

describe('a password replacement racing logins, in every order of their requests', () => {
  it('a change: only the caller’s session and new-password sessions are live once it is answered', async () => {
    await fc.assert(
      fc.asyncProperty(interleavings, async ({ choices, oldLogins, newLogins }) => {
        const username = `race-change-${++users}`;
        const caller = await service.signUp(username);
        const bystander = (await service.login(username)).json;
        const passwords = [
          ...Array.from({ length: oldLogins }, () => DEFAULT_PASSWORD),
          ...Array.from({ length: newLogins }, () => NEW_PASSWORD),
        ];
        const { outcomes, order } = await gate.run(
          [
            () =>
              service.post(
                '/auth/password',
                { currentPassword: DEFAULT_PASSWORD, newPassword: NEW_PASSWORD },
                bearer(caller.accessToken),
              ),
            ...passwords.map((password, index) => () => loginAs(username, password, index + 1)),
          ],
          picker(choices),
        );
        const [change, ...logins] = outcomes.map((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        });
        expect(change?.status, JSON.stringify(order)).toBe(204);
        for (const [index, login] of logins.entries()) {
          expect([200, 401]).toContain(login.status);
          if (login.status !== 200) continue;
          const withNew = passwords[index] === NEW_PASSWORD;
          expect(
            await live(login),
            `${withNew ? 'new' : 'old'}-password login; ${JSON.stringify(order)}`,
          ).toBe(withNew);
        }
        expect((await service.me(caller.accessToken)).status).toBe(200);
        expect((await service.me(bystander.accessToken)).status).toBe(401);
        const listed = await service.request('GET', '/auth/sessions', {
          headers: bearer(caller.accessToken),
        });
        const liveNew = logins.filter(
          (login, index) => login.status === 200 && passwords[index] === NEW_PASSWORD,
        ).length;
        expect(listed.json.sessions).toHaveLength(1 + liveNew);
        expect((await loginAs(username, DEFAULT_PASSWORD, 0)).status).toBe(401);
        expect((await loginAs(username, NEW_PASSWORD, 0)).status).toBe(200);
      }),
      { numRuns: 30 },
    );
  }, 180_000);

  it('a reset (no session kept): every earlier session and every old-password login is over, new-password ones live', async () => {
    await fc.assert(
      fc.asyncProperty(interleavings, async ({ choices, oldLogins, newLogins }) => {
        const username = `race-reset-${++users}`;
        const before = await service.signUp(username);
        const userId: string = claimsOf(before.accessToken).sub;
        const services = defaultServices();
        const passwordHash = await services.passwords.hash(NEW_PASSWORD);
        const passwords = [
          ...Array.from({ length: oldLogins }, () => DEFAULT_PASSWORD),
          ...Array.from({ length: newLogins }, () => NEW_PASSWORD),
        ];
        const { outcomes, order } = await gate.run<boolean | ApiResponse>(
          [
            () => replacePassword(services, { userId, username, passwordHash }),
            ...passwords.map((password, index) => () => loginAs(username, password, index + 1)),
          ],
          picker(choices),
        );
        const [reset, ...logins] = outcomes.map((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        });
        expect(reset, JSON.stringify(order)).toBe(true);
        for (const [index, login] of (logins as ApiResponse[]).entries()) {
          if (login.status !== 200) continue;
          const withNew = passwords[index] === NEW_PASSWORD;
          expect(
            await live(login),
            `${withNew ? 'new' : 'old'}-password login; ${JSON.stringify(order)}`,
          ).toBe(withNew);
        }
        expect((await service.me(before.accessToken)).status).toBe(401);
        expect((await loginAs(username, DEFAULT_PASSWORD, 0)).status).toBe(401);
        expect((await loginAs(username, NEW_PASSWORD, 0)).status).toBe(200);
      }),
      { numRuns: 20 },
    );
  }, 180_000);
  it('the same change submitted twice at once: both answered 204, as one change would be', async () => {
    await fc.assert(
      fc.asyncProperty(interleavings, async ({ choices, oldLogins }) => {
        const username = `race-twice-${++users}`;
        const caller = await service.signUp(username);
        const bystander = (await service.login(username)).json;
        const change = () =>
          service.post(
            '/auth/password',
            { currentPassword: DEFAULT_PASSWORD, newPassword: NEW_PASSWORD },
            bearer(caller.accessToken),
          );
        const { outcomes, order } = await gate.run(
          [
            change,
            change,
            ...Array.from(
              { length: oldLogins },
              (_, index) => () => loginAs(username, DEFAULT_PASSWORD, index + 1),
            ),
          ],
          picker(choices),
        );
        const [first, second, ...logins] = outcomes.map((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        });
        expect([first?.status, second?.status], JSON.stringify(order)).toEqual([204, 204]);
        for (const login of logins) if (login.status === 200) expect(await live(login)).toBe(false);
        expect((await service.me(caller.accessToken)).status).toBe(200);
        expect((await service.post('/auth/refresh', { refreshToken: caller.refreshToken })).status).toBe(200);
        expect((await service.me(bystander.accessToken)).status).toBe(401);
        const listed = await service.request('GET', '/auth/sessions', {
          headers: bearer(caller.accessToken),
        });
        expect(listed.json.sessions).toHaveLength(1);
        expect((await loginAs(username, NEW_PASSWORD, 0)).status).toBe(200);
      }),
      { numRuns: 15 },
    );
  }, 180_000);
});
