import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import {
  countRequests,
  functionClients,
  type UnprocessedBatchKeys,
  unprocessedBatchKeys,
} from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';
import { type StoreReader, storeReader } from '../support/store.ts';

// Every read of a session with its account, and of a user's other sessions, is one BatchGetItem. DynamoDB may
// answer it with some keys unprocessed (throttling); a key it did not answer is not a key with no item: the read
// asks again, and if the key still goes unanswered the request is a 503 (the authorizer: a refusal), never a
// session judged against "no account item" (generation 0, enabled) or a shorter list.

let service: TestService;
let store: StoreReader;
let unprocessed: UnprocessedBatchKeys;
let userCount = 0;

beforeAll(async () => {
  service = await startTestService();
  // The very client the functions send through.
  unprocessed = unprocessedBatchKeys(functionClients());
  store = storeReader(service.server.dynamoDbEndpoint);
});
afterEach(() => unprocessed.heal());
afterAll(async () => {
  unprocessed.remove();
  store.close();
  await service.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const accountKeyOf = (userId: string) => (pk: string) => pk === `account#${userId}`;
const sessionKeyOf = (sid: string) => (pk: string) => pk === `session#${sid}`;

async function signedUp() {
  userCount += 1;
  const username = `unprocessed-${userCount}`;
  const tokens = await service.signUp(username);
  const { sub: userId, sid } = claimsOf(tokens.accessToken) as { sub: string; sid: string };
  return { username, tokens, userId, sid };
}

function expectServiceUnavailable(response: { status: number; json: any; text: string }) {
  expect(response.status).toBe(503);
  expect(response.json?.error).toBe('service_unavailable');
  expect(response.text).not.toContain('accessToken');
}

/** Each flow that reads a session with its account by access token, as the caller sends it. */
const authenticatedFlows: [string, (token: string, sid: string) => Promise<{ status: number }>][] = [
  ['logout-all', (token) => service.post('/auth/logout-all', undefined, bearer(token))],
  ['list sessions', (token) => service.request('GET', '/auth/sessions', { headers: bearer(token) })],
  [
    'revoke one session',
    (token, sid) => service.request('DELETE', `/auth/sessions/${sid}`, { headers: bearer(token) }),
  ],
  [
    'password change',
    (token) =>
      service.post(
        '/auth/password',
        { currentPassword: DEFAULT_PASSWORD, newPassword: 'another long passphrase' },
        bearer(token),
      ),
  ],
  [
    'account deletion',
    (token) =>
      service.request('DELETE', '/auth/account', {
        body: { password: DEFAULT_PASSWORD },
        headers: bearer(token),
      }),
  ],
];

describe('a session revoked by logout-all, while its account key goes unanswered', () => {
  it('the authorizer refuses and a refresh is a 503 with no token: a missing answer is never "generation 0"', async () => {
    const { username, tokens, userId } = await signedUp();
    const other = (await service.login(username)).json;
    expect((await service.post('/auth/logout-all', undefined, bearer(tokens.accessToken))).status).toBe(204);
    unprocessed.leave(accountKeyOf(userId));
    expect((await service.me(other.accessToken)).status).toBe(401);
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: other.refreshToken }));
    expect(unprocessed.altered).toBeGreaterThan(0);
    unprocessed.heal();
    // Answered, the account says what it said all along: the session is over.
    expect((await service.post('/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(401);
  });

  it.each(authenticatedFlows)('%s answers 503 and changes nothing', async (_name, flow) => {
    const { username, tokens, userId, sid } = await signedUp();
    const other = (await service.login(username)).json;
    expect((await service.post('/auth/logout-all', undefined, bearer(other.accessToken))).status).toBe(204);
    const before = await store.sessionsOf(userId);
    unprocessed.leave(accountKeyOf(userId));
    expectServiceUnavailable((await flow(tokens.accessToken, sid)) as any);
    unprocessed.heal();
    expect(await store.sessionsOf(userId)).toEqual(before);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
  });
});

describe('a live session whose own key goes unanswered', () => {
  it('the authorizer refuses, a refresh is a 503 and revokes nothing, and both work once it is answered', async () => {
    const { tokens, userId, sid } = await signedUp();
    unprocessed.leave(sessionKeyOf(sid));
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
    unprocessed.heal();
    const [session] = await store.sessionsOf(userId);
    expect(session?.revoked).toBe(false);
    expect(session?.refreshHash).toBe(hashRefreshToken(tokens.refreshToken));
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(200);
  });

  it.each(authenticatedFlows)('%s answers 503, and the session stays live', async (_name, flow) => {
    const { tokens, sid } = await signedUp();
    unprocessed.leave(sessionKeyOf(sid));
    expectServiceUnavailable((await flow(tokens.accessToken, sid)) as any);
    unprocessed.heal();
    expect((await service.me(tokens.accessToken)).status).toBe(200);
  });
});

describe('keys left unprocessed once are asked for again', () => {
  it('the authorizer, a refresh and logout-all see the session and account after one more BatchGetItem', async () => {
    const counter = countRequests(functionClients(), 'unprocessed-counter');
    try {
      const { username, tokens, userId, sid } = await signedUp();
      const other = (await service.login(username)).json;
      const both = (pk: string) => accountKeyOf(userId)(pk) || sessionKeyOf(sid)(pk);

      counter.reset();
      unprocessed.leave(both, 1);
      expect((await service.me(tokens.accessToken)).status).toBe(200);
      expect(counter.counts().BatchGetItem).toBe(2);

      unprocessed.leave(both, 1);
      const refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
      expect(refreshed.status).toBe(200);
      expect(unprocessed.altered).toBe(1);

      unprocessed.leave(accountKeyOf(userId), 1);
      expect(
        (await service.post('/auth/logout-all', undefined, bearer(refreshed.json.accessToken))).status,
      ).toBe(204);
      expect(unprocessed.altered).toBe(1);
      expect((await service.me(other.accessToken)).status).toBe(401);
    } finally {
      counter.remove();
    }
  });
});

describe("the user's other sessions (GET /auth/sessions)", () => {
  it('lists every one when some keys are answered only on the second ask, and answers 503 rather than a shorter list', async () => {
    const { username, tokens, sid } = await signedUp();
    const others = [(await service.login(username)).json, (await service.login(username)).json];
    const otherSids = new Set(others.map((pair) => claimsOf(pair.accessToken).sid as string));
    const isOther = (pk: string) => otherSids.has(pk.replace(/^session#/, ''));
    const list = () => service.request('GET', '/auth/sessions', { headers: bearer(tokens.accessToken) });

    unprocessed.leave(isOther, 1);
    const listed = await list();
    expect(listed.status).toBe(200);
    expect(listed.json.sessions.map((s: { sessionId: string }) => s.sessionId).sort()).toEqual(
      [sid, ...otherSids].sort(),
    );
    expect(unprocessed.altered).toBe(1);

    unprocessed.leave(isOther);
    expectServiceUnavailable(await list());
  });
});
