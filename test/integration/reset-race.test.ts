import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { mailsTo } from '../support/mailbox.ts';
import { type HeldRequest, type Interleaver, interleaveRequests } from '../support/sdk-middleware.ts';
import {
  type ApiResponse,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
} from '../support/service.ts';

// API.md `POST /auth/password/reset`: every outstanding reset link of the user dies with a reset. Two DIFFERENT
// links of one account (two forgot requests) redeemed at once each pass the link checks before either has
// replaced the password; the replacement is conditional on the password they were judged against, so exactly
// one reset stands, in every order their DynamoDB requests may reach the table (each request waits at a gate
// until fast-check's picks let it through).

let service: TestService;
let gate: Interleaver;
beforeAll(async () => {
  service = await startTestService();
  gate = interleaveRequests(defaultServices().db);
});
afterAll(async () => {
  gate.remove();
  await service.close();
});

let users = 0;
let clients = 0;
/** A client address of its own per request, so the per-client limit of forgot stays out of the way. */
const someClient = () => `10.17.${++clients >> 8}.${clients & 255}`;

/** Picks from fast-check's choices, in turn: any order of the held requests can be drawn, and it shrinks. */
const picker = (choices: readonly number[]) => (held: readonly HeldRequest[], step: number) =>
  (choices[step % choices.length] ?? 0) % held.length;

/** An account with an address, a session of it, and `count` reset links (one forgot request each). */
async function accountWithResetLinks(count: number) {
  const username = `reset-race-${++users}`;
  const email = `${username}@example.com`;
  const registered = await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email });
  expect(registered.status).toBe(201);
  const session = (await service.login(username)).json;
  for (let i = 0; i < count; i += 1) {
    const asked = await service.request('POST', '/auth/password/forgot', {
      body: { email },
      sourceIp: someClient(),
    });
    expect(asked.status).toBe(202);
  }
  const tokens = (await mailsTo(service.server.mailDir, email))
    .filter((mail) => mail.subject === 'Reset your password')
    .map((mail) => mail.token as string);
  expect(new Set(tokens).size).toBe(count);
  return { username, session, tokens };
}

const loginStatus = async (username: string, password: string) =>
  (
    await service.request('POST', '/auth/login', {
      body: { username, password },
      sourceIp: someClient(),
    })
  ).status;

describe('different reset links of one account redeemed at once, in every order of their requests', () => {
  it('exactly one reset stands: one 204, the others invalid_link; only the winner’s password signs in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          links: fc.integer({ min: 2, max: 3 }),
          choices: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 40 }),
        }),
        async ({ links, choices }) => {
          const { username, session, tokens } = await accountWithResetLinks(links);
          const passwords = tokens.map((_, index) => `a brand new passphrase number ${index}`);
          const { outcomes, order } = await gate.run<ApiResponse>(
            tokens.map(
              (token, index) => () =>
                service.post('/auth/password/reset', { token, newPassword: passwords[index] }),
            ),
            picker(choices),
          );
          const answers = outcomes.map((outcome) => {
            if (outcome.status === 'rejected') throw outcome.reason;
            return outcome.value;
          });
          const trace = JSON.stringify(order);
          expect(
            answers.filter((answer) => answer.status === 204),
            trace,
          ).toHaveLength(1);
          for (const answer of answers.filter((a) => a.status !== 204)) {
            expect(answer.status, trace).toBe(400);
            expect(answer.json.error, trace).toBe('invalid_link');
          }
          const winner = answers.findIndex((answer) => answer.status === 204);
          for (const [index, password] of passwords.entries())
            expect(await loginStatus(username, password), `password ${index}; ${trace}`).toBe(
              index === winner ? 200 : 401,
            );
          expect(await loginStatus(username, DEFAULT_PASSWORD)).toBe(401);
          expect((await service.me(session.accessToken)).status).toBe(401);
          // Every link is spent now, the loser's too.
          for (const token of tokens) {
            const again = await service.post('/auth/password/reset', {
              token,
              newPassword: 'yet another passphrase',
            });
            expect(again.json.error).toBe('invalid_link');
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 180_000);
});
