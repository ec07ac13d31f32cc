import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { mailsTo } from '../support/mailbox.ts';
import {
  type DynamoFault,
  type FaultInjector,
  functionClients,
  injectAttemptFaults,
  injectFaults,
} from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';
import { type StoreReader, storeReader } from '../support/store.ts';

let service: TestService;
let faults: FaultInjector;
let store: StoreReader;
let userCount = 0;

beforeAll(async () => {
  service = await startTestService();
  // The very clients the functions send through (both stores share one; the authorizer has its own).
  faults = injectFaults(functionClients());
  store = storeReader(service.server.dynamoDbEndpoint);
});
afterEach(() => faults.heal());
afterAll(async () => {
  store.close();
  await service.close();
});

/** A fresh user with one live session. */
async function signedUp() {
  userCount += 1;
  const username = `fault-user-${userCount}`;
  const tokens = await service.signUp(username);
  return { username, tokens, userId: claimsOf(tokens.accessToken).sub as string };
}

function expectServiceUnavailable(response: { status: number; headers: Headers; json: any }) {
  expect(response.status).toBe(503);
  expect(response.json).toEqual({ error: 'service_unavailable', message: expect.any(String) });
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(response.json).not.toHaveProperty('accessToken');
  expect(response.json).not.toHaveProperty('refreshToken');
}

const faultKinds: DynamoFault[] = ['throttling', 'timeout', 'server-error'];

describe.each(faultKinds)('DynamoDB %s', (fault) => {
  it('login answers 503 with Retry-After and no token when the session write fails, and stores no session', async () => {
    const { username, userId } = await signedUp();
    const before = await store.sessionsOf(userId);
    faults.inject({ fault, operation: 'PutItem' });
    expectServiceUnavailable(await service.login(username));
    expect(faults.failed).toBeGreaterThan(0);
    expect(await store.sessionsOf(userId)).toHaveLength(before.length);
    faults.heal();
    expect((await service.login(username)).status).toBe(200);
  });

  it.each([
    ['the address count cannot be read', 'GetItem'],
    ['no check slot can be taken', 'UpdateItem'],
  ])('login answers 503 when %s, and counts no failure', async (_case, operation) => {
    const { username } = await signedUp();
    faults.inject({ fault, operation });
    expectServiceUnavailable(await service.login(username, 'not the password at all'));
    faults.heal();
    const item = await service.storedItem(`user#${username}`);
    expect(item?.hourCount).toBeUndefined();
    expect(item?.pairs).toBeUndefined();
  });

  it('refresh answers 503 with no token when the rotation fails, and the old refresh token stays current', async () => {
    const { tokens, userId } = await signedUp();
    faults.inject({ fault, operation: 'UpdateItem' });
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
    const [session] = await store.sessionsOf(userId);
    expect(session?.refreshHash).toBe(hashRefreshToken(tokens.refreshToken));
    expect(session?.revoked).toBe(false);
    faults.heal();
    const retried = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(retried.status).toBe(200);
    expect((await service.me(retried.json.accessToken)).status).toBe(200);
  });

  it('refresh answers 503 when the session cannot be read, and revokes nothing', async () => {
    const { tokens, userId } = await signedUp();
    const rotated = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(rotated.status).toBe(200);
    // A replay of the rotated-out token is judged on the read of the session (with its account).
    faults.inject({ fault, operation: 'BatchGetItem' });
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
    faults.heal();
    const [session] = await store.sessionsOf(userId);
    expect(session?.refreshHash).toBe(hashRefreshToken(rotated.json.refreshToken));
    expect(session?.revoked).toBe(false);
  });

  it('logout answers 503 when the revocation fails, the session stays as it was, and a retry logs out', async () => {
    const { tokens, userId } = await signedUp();
    faults.inject({ fault, operation: 'UpdateItem' });
    expectServiceUnavailable(
      await service.post('/auth/logout', undefined, { authorization: `Bearer ${tokens.accessToken}` }),
    );
    faults.heal();
    expect((await store.sessionsOf(userId))[0]?.revoked).toBe(false);
    const retried = await service.post('/auth/logout', undefined, {
      authorization: `Bearer ${tokens.accessToken}`,
    });
    expect(retried.status).toBe(204);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
  });

  it('the authorizer refuses (401) while the session cannot be read, and allows again once it can', async () => {
    const { tokens } = await signedUp();
    faults.inject({ fault, operation: 'BatchGetItem' });
    const refused = await service.me(tokens.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ message: 'Unauthorized' });
    faults.heal();
    expect((await service.me(tokens.accessToken)).status).toBe(200);
  });
});

describe('logout-all interrupted by a DynamoDB fault', () => {
  it.each([
    ['the session and account cannot be read', 'BatchGetItem'],
    ['the revocation write fails', 'UpdateItem'],
  ])(
    'answers 503 when %s, leaves every session live, and a retry logs every session out',
    async (_name, operation) => {
      const { username, tokens } = await signedUp();
      const others = [(await service.login(username)).json, (await service.login(username)).json];
      faults.inject({ fault: 'server-error', operation, times: 1 });
      const failed = await service.post('/auth/logout-all', undefined, {
        authorization: `Bearer ${tokens.accessToken}`,
      });
      expectServiceUnavailable(failed);
      faults.heal();
      for (const live of [tokens, ...others]) expect((await service.me(live.accessToken)).status).toBe(200);
      const retried = await service.post('/auth/logout-all', undefined, {
        authorization: `Bearer ${tokens.accessToken}`,
      });
      expect(retried.status).toBe(204);
      for (const dead of [tokens, ...others]) expect((await service.me(dead.accessToken)).status).toBe(401);
    },
  );

  it('when the revocation was applied but its answer lost: 503, and it is complete (a retry is session_revoked)', async () => {
    const { username, tokens } = await signedUp();
    const other = (await service.login(username)).json;
    faults.inject({ fault: 'timeout', operation: 'UpdateItem', when: 'after', times: 1 });
    expectServiceUnavailable(
      await service.post('/auth/logout-all', undefined, { authorization: `Bearer ${tokens.accessToken}` }),
    );
    faults.heal();
    for (const dead of [tokens, other]) expect((await service.me(dead.accessToken)).status).toBe(401);
    const retried = await service.post('/auth/logout-all', undefined, {
      authorization: `Bearer ${tokens.accessToken}`,
    });
    expect(retried.json.error).toBe('session_revoked');
  });
});

describe('session and account management interrupted by a DynamoDB fault', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const NEW_PASSWORD = 'a brand new passphrase';

  it('login answers 503 with no token when the account cannot be read, and stores no session', async () => {
    const { username, userId } = await signedUp();
    const before = (await store.sessionsOf(userId)).length;
    // The second GetItem of a login is the account (roles, disabled, generation).
    faults.inject({ fault: 'server-error', operation: 'GetItem', skip: 1, times: 1 });
    const failed = await service.login(username);
    expectServiceUnavailable(failed);
    expect(failed.text).not.toContain('accessToken');
    expect(await store.sessionsOf(userId)).toHaveLength(before);
  });

  it.each([
    ['the index cannot be queried', 'Query', 0],
    ['the sessions cannot be read', 'BatchGetItem', 1],
  ])('listing sessions answers 503 when %s', async (_name, operation, skip) => {
    const { username, tokens } = await signedUp();
    await service.login(username);
    faults.inject({ fault: 'throttling', operation, skip, times: 1 });
    expectServiceUnavailable(
      await service.request('GET', '/auth/sessions', { headers: bearer(tokens.accessToken) }),
    );
    faults.heal();
    const listed = await service.request('GET', '/auth/sessions', { headers: bearer(tokens.accessToken) });
    expect(listed.json.sessions).toHaveLength(2);
  });

  it('revoking one session answers 503 when the write fails, leaves it live, and a retry revokes it', async () => {
    const { username, tokens } = await signedUp();
    const other = (await service.login(username)).json;
    const path = `/auth/sessions/${claimsOf(other.accessToken).sid}`;
    faults.inject({ fault: 'server-error', operation: 'UpdateItem', times: 1 });
    expectServiceUnavailable(await service.request('DELETE', path, { headers: bearer(tokens.accessToken) }));
    faults.heal();
    expect((await service.me(other.accessToken)).status).toBe(200);
    expect((await service.request('DELETE', path, { headers: bearer(tokens.accessToken) })).status).toBe(204);
    expect((await service.me(other.accessToken)).status).toBe(401);
  });

  // The change's writes after the check's two (the session's own count reserved, then cleared): the commit (new hash and
  // next generation), the caller's session carried over, the name's copy of the hash.
  it.each([
    ['the commit', 2, 'before'],
    ['the commit, its answer lost', 2, 'after'],
    ['carrying the caller’s session over', 3, 'before'],
    ['storing the name’s copy of the hash', 4, 'before'],
  ] as const)(
    'a password change interrupted at %s answers 503, and the same request again completes it',
    async (_name, skip, when) => {
      const { username, tokens } = await signedUp();
      const other = (await service.login(username)).json;
      const body = { currentPassword: DEFAULT_PASSWORD, newPassword: NEW_PASSWORD };
      faults.inject({ fault: 'server-error', operation: 'UpdateItem', skip, times: 1, when });
      expectServiceUnavailable(await service.post('/auth/password', body, bearer(tokens.accessToken)));
      faults.heal();
      // Whatever was done, the caller's session is live and the same request again is answered 204: before the
      // commit it makes the change, after it it is recognised as a repeat and finishes it.
      expect((await service.me(tokens.accessToken)).status).toBe(200);
      expect((await service.post('/auth/password', body, bearer(tokens.accessToken))).status).toBe(204);
      expect((await service.me(tokens.accessToken)).status).toBe(200);
      expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(200);
      expect((await service.me(other.accessToken)).status).toBe(401);
      expect((await service.login(username, DEFAULT_PASSWORD)).status).toBe(401);
      expect((await service.login(username, NEW_PASSWORD)).status).toBe(200);
    },
  );

  it('an account deletion whose commit fails answers 503, deletes nothing, and the same request again deletes it', async () => {
    const { username, tokens } = await signedUp();
    const body = { password: DEFAULT_PASSWORD };
    faults.inject({ fault: 'server-error', operation: 'UpdateItem', times: 1 });
    expectServiceUnavailable(
      await service.request('DELETE', '/auth/account', { body, headers: bearer(tokens.accessToken) }),
    );
    faults.heal();
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    expect(
      (await service.request('DELETE', '/auth/account', { body, headers: bearer(tokens.accessToken) }))
        .status,
    ).toBe(204);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect(await service.storedItem(`user#${username}`)).toBeUndefined();
  });

  it('an account deletion whose clean-up fails after the commit is done: the sessions are dead and the name is free', async () => {
    const { username, tokens } = await signedUp();
    faults.inject({ fault: 'server-error', operation: 'DeleteItem' });
    const deleted = await service.request('DELETE', '/auth/account', {
      body: { password: DEFAULT_PASSWORD },
      headers: bearer(tokens.accessToken),
    });
    expect(deleted.status).toBe(204);
    faults.heal();
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await service.login(username)).status).toBe(401);
    // The name's item was left behind; registering takes the name all the same.
    expect((await service.storedItem(`user#${username}`))?.passwordHash).toBeDefined();
    const registered = await service.post('/auth/register', { username, password: NEW_PASSWORD });
    expect(registered.status).toBe(201);
    expect(registered.json.userId).not.toBe(claimsOf(tokens.accessToken).sub);
    expect((await service.login(username, NEW_PASSWORD)).status).toBe(200);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
  });
});

describe('a DynamoDB response lost after the write was applied', () => {
  it('login answers 503 with no token; the orphan session is harmless and the user can log in again', async () => {
    const { username, userId } = await signedUp();
    const before = (await store.sessionsOf(userId)).length;
    // The login's second PutItem is the session (the first, the new device token's).
    faults.inject({ fault: 'timeout', operation: 'PutItem', when: 'after', skip: 1, times: 1 });
    expectServiceUnavailable(await service.login(username));
    expect(await store.sessionsOf(userId)).toHaveLength(before + 1);
    expect((await service.login(username)).status).toBe(200);
  });

  it('refresh answers 503 with no token; a retry with the old token gets the pair that write stored, and it keeps working', async () => {
    const { tokens, userId } = await signedUp();
    faults.inject({ fault: 'timeout', operation: 'UpdateItem', when: 'after', times: 1 });
    expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
    const [session] = await store.sessionsOf(userId);
    // The write happened whole: the old token moved to "previous", a new (never issued) hash is current.
    expect(session?.previousRefreshHash).toBe(hashRefreshToken(tokens.refreshToken));
    expect(session?.refreshHash).not.toBe(hashRefreshToken(tokens.refreshToken));
    const retried = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(retried.status).toBe(200);
    // The pair the interrupted write stored, not a second rotation.
    expect(hashRefreshToken(retried.json.refreshToken)).toBe(session?.refreshHash);
    expect((await store.sessionsOf(userId))[0]).toEqual(session);
    expect((await service.me(retried.json.accessToken)).status).toBe(200);
    expect((await service.post('/auth/refresh', { refreshToken: retried.json.refreshToken })).status).toBe(
      200,
    );
  });
});

describe('every DynamoDB request failing', () => {
  it('no token is ever returned while every DynamoDB request fails', async () => {
    const { username, tokens } = await signedUp();
    faults.inject({ fault: 'server-error' });
    const responses = [
      await service.login(username, DEFAULT_PASSWORD),
      await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }),
      await service.post('/auth/logout', { refreshToken: tokens.refreshToken }),
      await service.post('/auth/logout-all', undefined, { authorization: `Bearer ${tokens.accessToken}` }),
    ];
    for (const response of responses) expectServiceUnavailable(response);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
  });
});

describe('the SDK retries (maxAttempts 3) beneath the service', () => {
  it('absorb a 500 that clears within them: the login succeeds after a retried write', async () => {
    const { username } = await signedUp();
    const attemptFaults = injectAttemptFaults(functionClients());
    try {
      attemptFaults.failAttempts('PutItem', 1);
      expect((await service.login(username)).status).toBe(200);
      // The device token's write, failed once and retried, then the session's.
      expect(attemptFaults.attempts).toBe(3);
    } finally {
      attemptFaults.remove();
    }
  });

  it('turn a rotation whose answer was lost into a 200: the retry fails its condition, the refresh finds its own write', async () => {
    const { tokens } = await signedUp();
    const attemptFaults = injectAttemptFaults(functionClients());
    let response: Awaited<ReturnType<TestService['post']>>;
    try {
      attemptFaults.loseAttemptAnswers('UpdateItem', 1);
      response = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
      expect(attemptFaults.attempts).toBe(2);
    } finally {
      attemptFaults.remove();
    }
    expect(response.status).toBe(200);
    // The pair returned is the one stored: it keeps working, and the session was not revoked.
    expect((await service.me(response.json.accessToken)).status).toBe(200);
    expect((await service.post('/auth/refresh', { refreshToken: response.json.refreshToken })).status).toBe(
      200,
    );
  });

  it('turn a link redemption whose answer was lost into a 204: the retry fails its condition, the verification finds its own redemption', async () => {
    userCount += 1;
    const email = `lost-verify-${userCount}@example.com`;
    const username = `lost-verify-${userCount}`;
    await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email });
    const token = (await mailsTo(service.server.mailDir, email)).at(-1)?.token;
    expect(token).toBeTypeOf('string');
    const attemptFaults = injectAttemptFaults(functionClients());
    let response: Awaited<ReturnType<TestService['post']>>;
    try {
      attemptFaults.loseAttemptAnswers('UpdateItem', 1);
      response = await service.post('/auth/email/verify', { token });
      // The redemption applied with its answer lost, its retry refused by the condition, then the address marked.
      expect(attemptFaults.attempts).toBe(3);
    } finally {
      attemptFaults.remove();
    }
    expect(response.status).toBe(204);
    const { accessToken } = (await service.login(username)).json;
    const account = await service.request('GET', '/auth/account', {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(account.json).toMatchObject({ email, emailVerified: true });
    // Still single-use: another redemption of the link is not this one.
    expect((await service.post('/auth/email/verify', { token })).json).toMatchObject({
      error: 'invalid_link',
    });
  });

  it('turn a registration whose answer was lost into a 201, while a name taken by someone else stays a 409', async () => {
    userCount += 1;
    const username = `lost-register-${userCount}`;
    const attemptFaults = injectAttemptFaults(functionClients());
    let response: Awaited<ReturnType<TestService['post']>>;
    try {
      attemptFaults.loseAttemptAnswers('PutItem', 1);
      response = await service.post('/auth/register', { username, password: DEFAULT_PASSWORD });
      expect(attemptFaults.attempts).toBe(2);
    } finally {
      attemptFaults.remove();
    }
    expect(response.status).toBe(201);
    expect((await service.storedItem(`user#${username}`))?.userId).toBe(response.json.userId);
    const again = await service.post('/auth/register', { username, password: 'another fine passphrase' });
    expect(again.status).toBe(409);
    expect((await service.login(username)).status).toBe(200);
  });

  it('give up after three attempts of a persisting 500: the refresh is a 503 and rotates nothing', async () => {
    const { tokens, userId } = await signedUp();
    const attemptFaults = injectAttemptFaults(functionClients());
    try {
      attemptFaults.failAttempts('UpdateItem', 10);
      expectServiceUnavailable(await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }));
      expect(attemptFaults.attempts).toBe(3);
    } finally {
      attemptFaults.remove();
    }
    expect((await store.sessionsOf(userId))[0]?.refreshHash).toBe(hashRefreshToken(tokens.refreshToken));
  });
});
