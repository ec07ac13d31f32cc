import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { type HeldRequest, type Interleaver, interleaveRequests } from '../support/sdk-middleware.ts';
import {
  type ApiResponse,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
} from '../support/service.ts';

// API.md "Known devices": a login with the owner's device token is judged by the device's own count, so no flood
// of strangers' guesses at the name keeps it out, and of any number of guesses sent with one device token at
// once at most LOGIN_MAX_FAILURES are checked. Driven over every order the requests may reach the table in:
// the flows run at once and each DynamoDB request waits at a gate until fast-check's picks let it through.
const MAX_FAILURES = 3;
const WRONG = 'not the password at all';

let service: TestService;
let gate: Interleaver;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), LOGIN_LOCKOUT_BASE: '30' });
  gate = interleaveRequests(defaultServices().db);
});
afterAll(async () => {
  gate.remove();
  await service.close();
});

let users = 0;
const loginFrom = (address: string, username: string, password: string, deviceToken?: string) =>
  service.request('POST', '/auth/login', {
    body: { username, password, ...(deviceToken && { deviceToken }) },
    sourceIp: address,
  });
/** Picks from fast-check's choices, in turn: any order of the held requests can be drawn, and it shrinks. */
const picker = (choices: readonly number[]) => (held: readonly HeldRequest[], step: number) =>
  (choices[step % choices.length] ?? 0) % held.length;
const deviceCount = async (token: string) =>
  (await service.storedItem(`device#${createHash('sha256').update(token).digest('base64url')}`))?.count;
const statuses = (outcomes: PromiseSettledResult<ApiResponse>[]) =>
  outcomes.map((outcome) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    return outcome.value;
  });

/** A registered user and the device token of its first login. */
async function owner(prefix: string) {
  const username = `${prefix}-${++users}`;
  await service.post('/auth/register', { username, password: DEFAULT_PASSWORD });
  const first = await loginFrom(`2001:db8:${users.toString(16)}:ffff::1`, username, DEFAULT_PASSWORD);
  expect(first.status).toBe(200);
  return { username, deviceToken: first.json.deviceToken as string };
}

describe('a known device racing a flood of guesses, in every order of their requests', () => {
  it('the owner’s device gets in whatever strangers send at the name; its own guessers count against the device alone', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          choices: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 40 }),
          strangers: fc.integer({ min: 0, max: 5 }),
          withDevice: fc.integer({ min: 0, max: MAX_FAILURES - 1 }),
        }),
        async ({ choices, strangers, withDevice }) => {
          const { username, deviceToken } = await owner('flood');
          const address = (flow: number) => `2001:db8:${users.toString(16)}:${flow}::1`;
          const { outcomes, order } = await gate.run(
            [
              () => loginFrom(address(0), username, DEFAULT_PASSWORD, deviceToken),
              ...Array.from(
                { length: strangers },
                (_, i) => () => loginFrom(address(i + 1), username, WRONG),
              ),
              ...Array.from(
                { length: withDevice },
                (_, i) => () => loginFrom(address(i + 100), username, WRONG, deviceToken),
              ),
            ],
            picker(choices),
          );
          const [own, ...others] = statuses(outcomes);
          const trace = JSON.stringify(order);
          expect(own?.status, trace).toBe(200);
          expect(own?.json.deviceToken).toBe(deviceToken);
          const strangerAnswers = others.slice(0, strangers).map((answer) => answer.status);
          const deviceAnswers = others.slice(strangers).map((answer) => answer.status);
          for (const status of strangerAnswers) expect([401, 429], trace).toContain(status);
          expect(
            deviceAnswers.every((status) => status === 401),
            trace,
          ).toBe(true);
          // The name counted the strangers' checked guesses, and nothing sent with the device.
          const checkedStrangers = strangerAnswers.filter((status) => status === 401).length;
          expect((await service.storedItem(`user#${username}`))?.hourCount ?? 0, trace).toBe(
            checkedStrangers,
          );
          expect(((await deviceCount(deviceToken))?.f ?? 0) <= withDevice, trace).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  }, 180_000);

  it('of any number of guesses sent with one device token at once, exactly LOGIN_MAX_FAILURES are checked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          choices: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 40 }),
          guesses: fc.integer({ min: 1, max: 2 * MAX_FAILURES + 1 }),
        }),
        async ({ choices, guesses }) => {
          const { username, deviceToken } = await owner('burst');
          const { outcomes, order } = await gate.run(
            Array.from(
              { length: guesses },
              (_, i) => () =>
                loginFrom(`2001:db8:${users.toString(16)}:${i}::1`, username, WRONG, deviceToken),
            ),
            picker(choices),
          );
          const answers = statuses(outcomes).map((answer) => answer.status);
          const trace = JSON.stringify(order);
          const checked = Math.min(guesses, MAX_FAILURES);
          expect(
            answers.filter((status) => status === 401),
            trace,
          ).toHaveLength(checked);
          expect(
            answers.filter((status) => status === 429),
            trace,
          ).toHaveLength(guesses - checked);
          expect((await deviceCount(deviceToken))?.f, trace).toBe(checked);
          expect((await service.storedItem(`user#${username}`))?.hourCount, trace).toBeUndefined();
        },
      ),
      { numRuns: 20 },
    );
  }, 180_000);

  it('a wrong guess and the owner’s right password with one token, at the limit: the owner gets in, the guess is 401, and no lock outlives the owner’s success', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 30 }), async (choices) => {
        const { username, deviceToken } = await owner('edge');
        const address = (flow: number) => `2001:db8:${users.toString(16)}:${flow}::1`;
        // Two failures short of the limit: of the two racing checks, one may take the last place below it and
        // the other the place at it (a provisional lock until its outcome).
        for (let i = 0; i < MAX_FAILURES - 2; i += 1)
          expect((await loginFrom(address(9), username, WRONG, deviceToken)).status).toBe(401);
        const { outcomes, order } = await gate.run(
          [
            () => loginFrom(address(0), username, DEFAULT_PASSWORD, deviceToken),
            () => loginFrom(address(1), username, WRONG, deviceToken),
          ],
          picker(choices),
        );
        const [own, guess] = statuses(outcomes);
        const trace = JSON.stringify(order);
        expect(own?.status, trace).toBe(200);
        expect(guess?.status, trace).toBe(401);
        // Whatever the order, the count left holds at most the guess, below the limit: no lock.
        expect((await deviceCount(deviceToken))?.l ?? 0, trace).toBe(0);
        expect((await loginFrom(address(0), username, DEFAULT_PASSWORD, deviceToken)).status, trace).toBe(
          200,
        );
      }),
      { numRuns: 25 },
    );
  }, 180_000);
});
