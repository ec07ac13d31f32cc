import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices, type Services } from '../../lib/services.ts';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { injectStep, type StepInjector } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// Each DynamoDB condition fragment of lib/store/conditions.ts, broken on its DynamoDB side only: a race lands
// between the read that judged a write and the write itself (injected at the SDK client), or the store is put in
// a state that only the condition can refuse. Weakening the fragment (or dropping it where it is used) turns the
// test red; the TypeScript twin of each rule cannot save it, since it judged an earlier read.

let service: TestService;
let services: Services;
let steps: StepInjector;
let userCount = 0;

beforeAll(async () => {
  service = await startTestService();
  services = defaultServices();
  steps = injectStep(services.db);
});
afterEach(() => steps.disarm());
afterAll(async () => {
  steps.remove();
  await service.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const isBatchRead = ({ operation }: { operation: string }) => operation === 'BatchGetItem';

async function signedUp() {
  userCount += 1;
  const username = `conditions-${userCount}`;
  const tokens = await service.signUp(username);
  const { sub: userId, sid } = claimsOf(tokens.accessToken) as { sub: string; sid: string };
  return { username, tokens, userId, sid };
}

describe('refreshHashIs: the rotation is a compare-and-set on the presented token', () => {
  it('a second refresh with the same token landing between the first one’s read and write: one rotation, one pair for both', async () => {
    const { tokens, sid } = await signedUp();
    let second: { status: number; json: any } | undefined;
    steps.arm(
      1,
      async () => {
        second = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
      },
      { match: isBatchRead },
    );
    const first = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(steps.fired).toBe(true);
    expect(first.status).toBe(200);
    expect(second?.status).toBe(200);
    expect(first.json.refreshToken).toBe(second?.json.refreshToken);
    const stored = await service.storedItem(`session#${sid}`);
    expect(stored?.refreshHash).toBe(hashRefreshToken(first.json.refreshToken));
    expect((await service.post('/auth/refresh', { refreshToken: first.json.refreshToken })).status).toBe(200);
  });
});

describe('notRevoked: the rotation and the carry-over write only an unrevoked session', () => {
  it('a logout landing between a refresh’s read and its write: the refresh is 401 session_revoked and issues nothing', async () => {
    const { tokens, sid } = await signedUp();
    steps.arm(
      1,
      async () => {
        const out = await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
        expect(out.status).toBe(204);
      },
      { match: isBatchRead },
    );
    const raced = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(steps.fired).toBe(true);
    expect(raced.status).toBe(401);
    expect(raced.json.error).toBe('session_revoked');
    const stored = await service.storedItem(`session#${sid}`);
    expect(stored?.revoked).toBe(true);
    expect(stored?.refreshHash).toBe(hashRefreshToken(tokens.refreshToken));
  });

  it('a revoked session is never carried over to a new generation (nor put back in the live-session index)', async () => {
    const { tokens, userId, sid } = await signedUp();
    await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    expect(await services.sessions.carryOver(sid, userId, 0, 1)).toBe(false);
    const stored = await service.storedItem(`session#${sid}`);
    expect(stored?.generation).toBe(0);
    expect(stored?.liveUserKey).toBeUndefined();
  });
});

describe('atGeneration, accountNotDeleted, passwordHashIs: the account item’s password writes', () => {
  it('a password change judged at one generation refuses once another whole-user revocation moved the user on (no session carried back to life)', async () => {
    const { tokens, userId, sid } = await signedUp();
    const read = await services.accounts.getAccount(userId);
    expect((await service.post('/auth/logout-all', undefined, bearer(tokens.accessToken))).status).toBe(204);
    const replaced = await services.accounts.replacePassword(userId, 'stale change', {
      sessionId: sid,
      generation: read.generation,
    });
    expect(replaced).toBe(false);
    const item = await service.storedItem(`account#${userId}`);
    expect(item?.generation).toBe(read.generation + 1);
    expect(item?.carriedSession).toBeUndefined();
    expect(item?.passwordHash).not.toBe('stale change');
    expect((await service.me(tokens.accessToken)).status).toBe(401);
  });

  it('no password is put on the tombstone of a deleted account, with or without a session kept', async () => {
    const { tokens, userId, sid } = await signedUp();
    const deleted = await service.request('DELETE', '/auth/account', {
      body: { password: DEFAULT_PASSWORD },
      headers: bearer(tokens.accessToken),
    });
    expect(deleted.status).toBe(204);
    const tombstone = await services.accounts.getAccount(userId);
    expect(await services.accounts.replacePassword(userId, 'after deletion')).toBe(false);
    expect(
      await services.accounts.replacePassword(userId, 'after deletion', {
        sessionId: sid,
        generation: tombstone.generation,
      }),
    ).toBe(false);
    expect((await service.storedItem(`account#${userId}`))?.passwordHash).toBeUndefined();
  });

  it('a rehash is stored only over the hash that was checked', async () => {
    const { tokens, userId } = await signedUp();
    const newPassword = 'a brand new passphrase';
    const changed = await service.post(
      '/auth/password',
      { currentPassword: DEFAULT_PASSWORD, newPassword },
      bearer(tokens.accessToken),
    );
    expect(changed.status).toBe(204);
    const current = (await service.storedItem(`account#${userId}`))?.passwordHash;
    expect(typeof current).toBe('string');
    expect(await services.accounts.rehashPassword(userId, 'the hash checked before the change', 'x')).toBe(
      false,
    );
    expect((await service.storedItem(`account#${userId}`))?.passwordHash).toBe(current);
  });
});

describe('generationMoving: a carry-over moves a session from one generation to the next only', () => {
  it('refuses a session that is neither at the generation it is carried from nor already at the target', async () => {
    const { userId, sid } = await signedUp();
    expect(await services.sessions.carryOver(sid, userId, 0, 1)).toBe(true);
    // The same carry-over again (a retry) is done already.
    expect(await services.sessions.carryOver(sid, userId, 0, 1)).toBe(true);
    expect(await services.sessions.carryOver(sid, userId, 0, 5)).toBe(false);
    const stored = await service.storedItem(`session#${sid}`);
    expect(stored?.generation).toBe(1);
    expect(stored?.liveUserKey).toBe(`${userId}#1`);
  });
});

describe('ownedBy: a write scoped to the item’s owner', () => {
  it('DELETE /auth/sessions/{id} of another user’s session is 404 and leaves it live', async () => {
    const owner = await signedUp();
    const stranger = await signedUp();
    const answer = await service.request('DELETE', `/auth/sessions/${owner.sid}`, {
      headers: bearer(stranger.tokens.accessToken),
    });
    expect(answer.status).toBe(404);
    expect((await service.me(owner.tokens.accessToken)).status).toBe(200);
  });

  it('carryOver refuses a session of another user', async () => {
    const owner = await signedUp();
    const stranger = await signedUp();
    expect(await services.sessions.carryOver(owner.sid, stranger.userId, 0, 1)).toBe(false);
    expect((await service.storedItem(`session#${owner.sid}`))?.generation).toBe(0);
  });

  it('the name’s item of an account that replaced the one read: no new hash, no deletion, no reclaim lands on it', async () => {
    const { username, userId } = await signedUp();
    const newcomer = randomUUID();
    // The name now holds another account (the first deleted, the name taken) since the operation read it.
    await services.db.send(
      new (await import('@aws-sdk/lib-dynamodb')).PutCommand({
        TableName: services.config.tableName,
        Item: {
          pk: `user#${username}`,
          userId: newcomer,
          username,
          passwordHash: 'the newcomer’s',
          createdAt: 1,
        },
      }),
    );
    expect(await services.users.replacePasswordHash(username, userId, 'stale')).toBe(false);
    await services.users.deleteAccount(username, userId);
    const reclaimed = await services.users.reclaimName(userId, {
      userId: randomUUID(),
      username,
      passwordHash: 'a third',
      now: 2,
    });
    expect(reclaimed).toBe(false);
    const item = await service.storedItem(`user#${username}`);
    expect(item).toMatchObject({ userId: newcomer, passwordHash: 'the newcomer’s' });
  });
});

describe('itemAbsent and itemExists: puts never replace, revocations never create', () => {
  it('a session is never stored over an existing one (a revoked session stays revoked)', async () => {
    const { tokens, userId, sid, username } = await signedUp();
    await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    const now = Math.floor(Date.now() / 1000);
    await expect(
      services.sessions.createSession(
        {
          sid,
          userId,
          username,
          refreshHash: 'another',
          rotatedAt: now,
          authTime: now,
          generation: 0,
          createdAt: Date.now(),
          userAgent: '',
          ipAddress: '',
        },
        now + 60,
      ),
    ).rejects.toMatchObject({ status: 503 });
    const stored = await service.storedItem(`session#${sid}`);
    expect(stored?.revoked).toBe(true);
    expect(stored?.refreshHash).toBe(hashRefreshToken(tokens.refreshToken));
  });

  it('a logout of a session the TTL already swept away creates no item', async () => {
    const { tokens, sid } = await signedUp();
    await service.deleteItem(`session#${sid}`);
    expect((await service.post('/auth/logout', { refreshToken: tokens.refreshToken })).status).toBe(204);
    expect(await service.storedItem(`session#${sid}`)).toBeUndefined();
  });
});

describe('nameUnregistered: registration never replaces an account', () => {
  it('registering a taken name is 409 and the owner’s password still works', async () => {
    const { username } = await signedUp();
    const taken = await service.post('/auth/register', { username, password: 'somebody else entirely' });
    expect(taken.status).toBe(409);
    expect((await service.login(username, DEFAULT_PASSWORD)).status).toBe(200);
  });
});
