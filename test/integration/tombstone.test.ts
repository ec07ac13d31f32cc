import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { useFakeClock } from '../support/clock.ts';
import { injectStep, type StepInjector } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';
import { type StoreReader, storeReader } from '../support/store.ts';

// A deleted account leaves a tombstone of its id (`account#<userId>`, deleted, its generation moved on) that
// keeps every session of the user dead; DynamoDB's TTL sweeps it, after which the id reads as "generation 0,
// enabled". So no session of a deleted user may outlive its tombstone: not even one stored by a login that read
// the account before the deletion landed and wrote its session after it, with a later clock.

const SESSION_MAX_AGE = 600;
let service: TestService;
let store: StoreReader;
let steps: StepInjector;
const clock = useFakeClock();

beforeAll(async () => {
  service = await startTestService({
    SESSION_MAX_AGE: String(SESSION_MAX_AGE),
    ACCESS_TOKEN_TTL: String(SESSION_MAX_AGE),
    REFRESH_TOKEN_TTL: String(SESSION_MAX_AGE),
  });
  steps = injectStep(defaultServices().db);
  store = storeReader(service.server.dynamoDbEndpoint);
});
afterAll(async () => {
  steps.remove();
  store.close();
  await service.close();
});

let userCount = 0;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('the tombstone of a deleted account', () => {
  it('outlives every session of the user, whichever request of a racing login the deletion lands after (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // After which of the login's DynamoDB requests the deletion lands (past the last: after the login).
        fc.integer({ min: 1, max: 6 }),
        // Seconds the rest of the login takes after it (a slow password hash, a retried request, clock skew).
        fc.integer({ min: 0, max: 10 }),
        async (landsAfter, loginRunsOn) => {
          userCount += 1;
          const username = `tombstone-${userCount}`;
          const caller = await service.signUp(username);
          const userId = claimsOf(caller.accessToken).sub as string;
          const deleteAccount = async () => {
            const deleted = await service.request('DELETE', '/auth/account', {
              body: { password: DEFAULT_PASSWORD },
              headers: bearer(caller.accessToken),
            });
            expect(deleted.status).toBe(204);
          };
          steps.arm(landsAfter, async () => {
            await deleteAccount();
            clock.advance(loginRunsOn);
          });
          const racing = await service.login(username);
          steps.disarm();
          if (!steps.fired) await deleteAccount();

          const tombstone = await store.item(`account#${userId}`);
          const sweptAt = tombstone.Item?.ttl as number;
          expect(tombstone.Item?.deleted).toBe(true);
          // Every session item of the user (the racing login's included, if it got one) ends by the sweep.
          for (const session of await store.sessionsOf(userId))
            expect(session.authTime + SESSION_MAX_AGE).toBeLessThanOrEqual(sweptAt);

          // The sweep itself: at the tombstone's TTL it is gone, and the user id reads as generation 0.
          clock.advance(sweptAt - Math.floor(Date.now() / 1000));
          await service.deleteItem(`account#${userId}`);
          for (const tokens of [caller, ...(racing.status === 200 ? [racing.json] : [])]) {
            expect((await service.me(tokens.accessToken)).status).toBe(401);
            expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(
              401,
            );
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
