import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.ts';

/**
 * Drives every DynamoDB expression the stores use (conditional puts and updates, `if_not_exists`, `REMOVE`,
 * the TTL attribute, the index query with its filter) through the API. Under `npm run test:ddb-local` it runs
 * against DynamoDB Local, which refuses what real DynamoDB refuses where the in-process store may not.
 */
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: '3' });
});
afterAll(() => service.close());

describe('the stores, through the API', () => {
  it('counts failures for a name before it exists, and registering it keeps no TTL on the account', async () => {
    expect((await service.login('early-bird', 'not the password at all')).status).toBe(401);
    const counted = await service.storedItem('user#early-bird');
    expect(counted).toMatchObject({ hourCount: 1 });
    expect(Object.values(counted?.pairs ?? {})).toEqual([expect.objectContaining({ f: 1 })]);
    expect(typeof counted?.ttl).toBe('number');

    await service.signUp('early-bird');
    const account = await service.storedItem('user#early-bird');
    expect(account?.ttl).toBeUndefined();
    expect(account?.pairs).toBeUndefined();
    expect(account?.hourCount).toBeUndefined();
  });

  it('locks a name after repeated failures and answers 429 with Retry-After', async () => {
    await service.signUp('locked-out');
    for (let i = 0; i < 3; i += 1) {
      expect((await service.login('locked-out', 'wrong password number x')).status).toBe(401);
    }
    const locked = await service.login('locked-out');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('lets exactly one of two racing refreshes with the same token write, and answers both with its pair', async () => {
    const tokens = await service.signUp('racer');
    const answers = await Promise.all([
      service.post('/auth/refresh', { refreshToken: tokens.refreshToken }),
      service.post('/auth/refresh', { refreshToken: tokens.refreshToken }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers[0]?.json.refreshToken).toBe(answers[1]?.json.refreshToken);
    // The sealed pair went in with the rotation's SET; logout's REMOVE takes it out again.
    const sid = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;
    expect((await service.storedItem(`session#${sid}`))?.sealedSuccessor).toBeInstanceOf(Uint8Array);
    expect((await service.post('/auth/logout', { refreshToken: answers[0]?.json.refreshToken })).status).toBe(
      204,
    );
    expect((await service.storedItem(`session#${sid}`))?.sealedSuccessor).toBeUndefined();
  });

  it('revokes every session of the user on logout-all, found through the index', async () => {
    const first = await service.signUp('many-sessions');
    const second = (await service.login('many-sessions')).json;
    const third = (await service.login('many-sessions')).json;
    const answer = await service.post('/auth/logout-all', undefined, {
      authorization: `Bearer ${third.accessToken}`,
    });
    expect(answer.status).toBe(204);
    for (const tokens of [first, second, third]) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      const refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
      expect(refreshed.json.error).toBe('session_revoked');
    }
  });
});
