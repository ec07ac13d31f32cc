import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { useFakeClock } from '../support/clock.ts';
import { staleIndexReads } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ SESSION_MAX_AGE: '86400' });
});
afterAll(() => service.close());
const clock = useFakeClock();

let userCount = 0;
const nextName = () => `device-${++userCount}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sidOf = (token: string): string => claimsOf(token).sid;
const listSessions = (accessToken: string) =>
  service.request('GET', '/auth/sessions', { headers: bearer(accessToken) });
const revoke = (accessToken: string, sessionId: string) =>
  service.request('DELETE', `/auth/sessions/${sessionId}`, { headers: bearer(accessToken) });
const loginFrom = async (username: string, userAgent: string) =>
  (
    await service.request('POST', '/auth/login', {
      body: { username, password: DEFAULT_PASSWORD },
      headers: { 'user-agent': userAgent },
    })
  ).json;
const refresh = (refreshToken: string) => service.post('/auth/refresh', { refreshToken });

describe('GET /auth/sessions', () => {
  it('lists the caller’s live sessions newest first, with when, where from and which is this one', async () => {
    const name = nextName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    const phone = await loginFrom(name, 'Phone/1.0');
    clock.advance(5);
    const laptop = await loginFrom(name, 'Laptop/2.0');
    clock.advance(5);
    const tablet = await loginFrom(name, 'Tablet/3.0');

    const response = await listSessions(laptop.accessToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
    const sessions = response.json.sessions;
    expect(sessions.map((s: any) => s.sessionId)).toEqual([
      sidOf(tablet.accessToken),
      sidOf(laptop.accessToken),
      sidOf(phone.accessToken),
    ]);
    expect(sessions.map((s: any) => s.userAgent)).toEqual(['Tablet/3.0', 'Laptop/2.0', 'Phone/1.0']);
    expect(sessions.map((s: any) => s.current)).toEqual([false, true, false]);
    for (const [i, session] of sessions.entries()) {
      expect(Object.keys(session).sort()).toEqual(
        [
          'createdAt',
          'current',
          'expiresAt',
          'ipAddress',
          'lastRefreshedAt',
          'sessionId',
          'userAgent',
        ].sort(),
      );
      expect(session.ipAddress).toBe('127.0.0.1');
      expect(session.lastRefreshedAt).toBeNull();
      const token = [tablet, laptop, phone][i].accessToken;
      // The absolute end: SESSION_MAX_AGE after the login (auth_time), as an ISO 8601 UTC string.
      expect(session.expiresAt).toBe(new Date((claimsOf(token).auth_time + 86400) * 1000).toISOString());
      expect(Math.abs(Date.parse(session.createdAt) - claimsOf(token).auth_time * 1000)).toBeLessThan(1000);
      expect(session.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('shows when a session was last refreshed', async () => {
    const tokens = await service.signUp(nextName());
    clock.advance(30);
    const refreshed = (await refresh(tokens.refreshToken)).json;
    const [session] = (await listSessions(refreshed.accessToken)).json.sessions;
    // To the second: the item keeps the time of its last rotation in seconds (one attribute fewer to write).
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    expect(seconds(session.lastRefreshedAt) - seconds(session.createdAt)).toBeGreaterThanOrEqual(30);
    expect(Math.abs(Date.parse(session.lastRefreshedAt) - Date.now())).toBeLessThan(1000);
  });

  it('drops revoked and logged-out sessions, and never lists another user’s', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const second = (await service.login(name)).json;
    const third = (await service.login(name)).json;
    await service.post('/auth/logout', undefined, bearer(second.accessToken));
    await service.signUp(nextName());
    const sessions = (await listSessions(third.accessToken)).json.sessions;
    expect(sessions.map((s: any) => s.sessionId).sort()).toEqual(
      [sidOf(first.accessToken), sidOf(third.accessToken)].sort(),
    );
  });

  it('drops a session revoked a moment ago that a lagging index still lists', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const second = (await service.login(name)).json;
    expect((await service.post('/auth/logout', undefined, bearer(second.accessToken))).status).toBe(204);
    const stale = staleIndexReads(defaultServices().db);
    try {
      stale.alsoReturn([`session#${sidOf(second.accessToken)}`]);
      const sessions = (await listSessions(first.accessToken)).json.sessions;
      expect(stale.altered).toBe(1);
      expect(sessions.map((s: any) => s.sessionId)).toEqual([sidOf(first.accessToken)]);
    } finally {
      stale.remove();
    }
  });

  it('lists the caller’s own session even before a lagging index shows it', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const stale = staleIndexReads(defaultServices().db);
    try {
      stale.hide(() => true);
      const sessions = (await listSessions(first.accessToken)).json.sessions;
      expect(sessions).toHaveLength(1);
      expect(sessions[0]).toMatchObject({ sessionId: sidOf(first.accessToken), current: true });
    } finally {
      stale.remove();
    }
  });

  it('keeps at most 256 characters of the user agent', async () => {
    const name = nextName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    const tokens = await loginFrom(name, `Agent/${'x'.repeat(400)}`);
    const [session] = (await listSessions(tokens.accessToken)).json.sessions;
    expect(session.userAgent).toHaveLength(256);
    expect(session.userAgent.startsWith('Agent/xxx')).toBe(true);
  });

  it('answers as logout-all does without a valid token of a live session', async () => {
    const tokens = await service.signUp(nextName());
    const none = await service.request('GET', '/auth/sessions');
    expect(none.status).toBe(401);
    expect(none.json.error).toBe('invalid_token');
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await listSessions(`${tokens.accessToken}x`)).json.error).toBe('invalid_token');
    await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    const revoked = await listSessions(tokens.accessToken);
    expect(revoked.status).toBe(401);
    expect(revoked.json.error).toBe('session_revoked');
  });
});

describe('DELETE /auth/sessions/{sessionId}', () => {
  it('revokes another session of the caller at once: its tokens die, the caller’s live on', async () => {
    const name = nextName();
    const laptop = await service.signUp(name);
    const phone = (await service.login(name)).json;
    const response = await revoke(laptop.accessToken, sidOf(phone.accessToken));
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await service.me(phone.accessToken)).status).toBe(401);
    expect((await refresh(phone.refreshToken)).json.error).toBe('session_revoked');
    expect((await service.me(laptop.accessToken)).status).toBe(200);
    const listed = (await listSessions(laptop.accessToken)).json.sessions;
    expect(listed.map((s: any) => s.sessionId)).toEqual([sidOf(laptop.accessToken)]);
  });

  it('is 204 again for an already revoked own session', async () => {
    const name = nextName();
    const laptop = await service.signUp(name);
    const phone = (await service.login(name)).json;
    expect((await revoke(laptop.accessToken, sidOf(phone.accessToken))).status).toBe(204);
    expect((await revoke(laptop.accessToken, sidOf(phone.accessToken))).status).toBe(204);
  });

  it('revoking the current session is a logout', async () => {
    const tokens = await service.signUp(nextName());
    expect((await revoke(tokens.accessToken, sidOf(tokens.accessToken))).status).toBe(204);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
  });

  it('is 404 not_found for another user’s session, which stays live, and for unknown or malformed ids', async () => {
    const mallory = await service.signUp(nextName());
    const alice = await service.signUp(nextName());
    const other = await revoke(mallory.accessToken, sidOf(alice.accessToken));
    expect(other.status).toBe(404);
    expect(other.json.error).toBe('not_found');
    expect((await service.me(alice.accessToken)).status).toBe(200);
    expect((await refresh(alice.refreshToken)).status).toBe(200);

    const unknown = await revoke(mallory.accessToken, '3f1c2a4e-8a53-4c1e-9a7e-2b7f0d9c6e11');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual(other.json);
    for (const malformed of ['not-a-session', 'session%23x', 'A'.repeat(300)]) {
      const answer = await revoke(mallory.accessToken, malformed);
      expect(answer.status).toBe(404);
      expect(answer.json.error).toBe('not_found');
    }
  });

  it('needs a valid token of a live session', async () => {
    const tokens = await service.signUp(nextName());
    const none = await service.request('DELETE', `/auth/sessions/${sidOf(tokens.accessToken)}`);
    expect(none.status).toBe(401);
    expect((await service.me(tokens.accessToken)).status).toBe(200);
  });
});

describe('whole-user revocation (logout-all)', () => {
  it('a session created a moment before logout-all, still missing from a lagging index, cannot escape', async () => {
    const name = nextName();
    const caller = await service.signUp(name);
    const older = (await service.login(name)).json;
    // Created a moment before the logout-all: on DynamoDB the index may not list it yet.
    const justCreated = (await service.login(name)).json;
    const stale = staleIndexReads(defaultServices().db);
    try {
      stale.hide((pk) => pk === `session#${sidOf(justCreated.accessToken)}`);
      expect((await service.post('/auth/logout-all', undefined, bearer(caller.accessToken))).status).toBe(
        204,
      );
    } finally {
      stale.remove();
    }
    for (const tokens of [caller, older, justCreated]) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
      expect((await listSessions(tokens.accessToken)).json.error).toBe('session_revoked');
      expect((await service.post('/auth/logout-all', undefined, bearer(tokens.accessToken))).json.error).toBe(
        'session_revoked',
      );
    }
    // Sessions started afterwards work, and list only themselves.
    const after = (await service.login(name)).json;
    expect((await service.me(after.accessToken)).status).toBe(200);
    expect((await refresh(after.refreshToken)).status).toBe(200);
    expect((await listSessions(after.accessToken)).json.sessions).toHaveLength(1);
  });

  it('writes nothing per session: the revoked sessions’ items are untouched', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const second = (await service.login(name)).json;
    const before = await service.storedItem(`session#${sidOf(first.accessToken)}`);
    expect((await service.post('/auth/logout-all', undefined, bearer(second.accessToken))).status).toBe(204);
    expect(await service.storedItem(`session#${sidOf(first.accessToken)}`)).toEqual(before);
    expect((await service.me(first.accessToken)).status).toBe(401);
  });

  it('two racing logout-alls both succeed, and every session is dead after', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const second = (await service.login(name)).json;
    const answers = await Promise.all([
      service.post('/auth/logout-all', undefined, bearer(first.accessToken)),
      service.post('/auth/logout-all', undefined, bearer(first.accessToken)),
    ]);
    // Each is either the revocation (204) or, having read after the other's write, refused as revoked.
    for (const answer of answers) expect([204, 401]).toContain(answer.status);
    expect(answers.some((answer) => answer.status === 204)).toBe(true);
    for (const tokens of [first, second]) expect((await service.me(tokens.accessToken)).status).toBe(401);
  });
});

describe('session items of the shape written before the trim to one write unit', () => {
  it('are still read whole (id from the item, last refresh in milliseconds), and their next rotation drops both copies', async () => {
    const tokens = await service.signUp(nextName());
    const sid = sidOf(tokens.accessToken);
    const lastRefreshedAt = Date.now() - 5000;
    // What the previous version stored: the id and the last refresh's time as attributes of their own.
    await defaultServices().db.send(
      new UpdateCommand({
        TableName: defaultServices().config.tableName,
        Key: { pk: `session#${sid}` },
        UpdateExpression: 'SET sid = :sid, lastRefreshedAt = :at, previousRefreshHash = :old',
        ExpressionAttributeValues: { ':sid': sid, ':at': lastRefreshedAt, ':old': 'an-older-hash' },
      }),
    );
    clock.advance(1);
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    const [listed] = (await listSessions(tokens.accessToken)).json.sessions;
    expect(listed.sessionId).toBe(sid);
    expect(Date.parse(listed.lastRefreshedAt)).toBeGreaterThanOrEqual(lastRefreshedAt);
    clock.advance(30);
    const refreshed = (await refresh(tokens.refreshToken)).json;
    expect((await service.me(refreshed.accessToken)).status).toBe(200);
    const item = await service.storedItem(`session#${sid}`);
    expect(item).not.toHaveProperty('sid');
    expect(item).not.toHaveProperty('lastRefreshedAt');
    const [after] = (await listSessions(refreshed.accessToken)).json.sessions;
    expect(after.sessionId).toBe(sid);
    expect(Math.abs(Date.parse(after.lastRefreshedAt) - Date.now())).toBeLessThan(1000);
  });
});
