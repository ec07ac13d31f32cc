import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  disableUser,
  enableUser,
  revokeUserSessions,
  showUser,
  updateUserRoles,
} from '../../lib/operations/admin.ts';
import { defaultServices } from '../../lib/services.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: '3' });
});
afterAll(() => service.close());

let userCount = 0;
const nextName = () => `holder-${++userCount}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const NEW_PASSWORD = 'a brand new passphrase';
const changePassword = (accessToken: string, body: unknown) =>
  service.post('/auth/password', body, bearer(accessToken));
const deleteAccount = (accessToken: string, body: unknown) =>
  service.request('DELETE', '/auth/account', { body, headers: bearer(accessToken) });
const refresh = (refreshToken: string) => service.post('/auth/refresh', { refreshToken });

/** A user with `count` sessions (logins), in order. */
async function sessionsOf(name: string, count: number): Promise<any[]> {
  const sessions = [await service.signUp(name)];
  for (let i = 1; i < count; i += 1) sessions.push((await service.login(name)).json);
  return sessions;
}

describe('POST /auth/password', () => {
  it('changes the password, keeps the calling session and revokes every other one', async () => {
    const name = nextName();
    const [other, caller, another] = await sessionsOf(name, 3);
    const response = await changePassword(caller.accessToken, {
      currentPassword: DEFAULT_PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    for (const tokens of [other, another]) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
    }
    expect((await service.me(caller.accessToken)).status).toBe(200);
    const refreshed = await refresh(caller.refreshToken);
    expect(refreshed.status).toBe(200);
    expect((await service.me(refreshed.json.accessToken)).status).toBe(200);
    const listed = await service.request('GET', '/auth/sessions', {
      headers: bearer(refreshed.json.accessToken),
    });
    expect(listed.json.sessions.map((s: any) => s.sessionId)).toEqual([claimsOf(caller.accessToken).sid]);

    expect((await service.login(name, DEFAULT_PASSWORD)).status).toBe(401);
    expect((await service.login(name, NEW_PASSWORD)).status).toBe(200);
  });

  it('the kept session falls to a later logout-all like any other', async () => {
    const name = nextName();
    const [other, caller] = await sessionsOf(name, 2);
    await changePassword(caller.accessToken, {
      currentPassword: DEFAULT_PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    const fresh = (await service.login(name, NEW_PASSWORD)).json;
    expect((await service.post('/auth/logout-all', undefined, bearer(fresh.accessToken))).status).toBe(204);
    for (const tokens of [other, caller, fresh])
      expect((await service.me(tokens.accessToken)).status).toBe(401);
  });

  it('refuses a wrong current password with 401, counted against the calling session alone', async () => {
    const name = nextName();
    const [caller, other] = await sessionsOf(name, 2);
    for (let i = 0; i < 3; i += 1) {
      const wrong = await changePassword(caller.accessToken, {
        currentPassword: 'not my password at all',
        newPassword: NEW_PASSWORD,
      });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_credentials');
    }
    // LOGIN_MAX_FAILURES (3 here) failures lock this session's re-entries for LOGIN_LOCKOUT_BASE (30 s).
    const locked = await changePassword(caller.accessToken, {
      currentPassword: DEFAULT_PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(locked.status).toBe(429);
    expect(locked.json.error).toBe('too_many_attempts');
    // (29 when the clock ticked a second between the last failure and this answer.)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(Number(locked.headers.get('retry-after'))).toBeLessThanOrEqual(30);
    // Nothing was revoked or changed, and neither the name nor the user's other sessions are held by it.
    expect((await service.me(caller.accessToken)).status).toBe(200);
    expect((await service.storedItem(`user#${name}`))?.hourCount).toBeUndefined();
    expect((await service.login(name, DEFAULT_PASSWORD)).status).toBe(200);
    const fromOther = await changePassword(other.accessToken, {
      currentPassword: DEFAULT_PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(fromOther.status).toBe(204);
  });

  it('refuses a weak new password (400 weak_password) and missing or wrong-typed fields (400 invalid_request)', async () => {
    const name = nextName();
    const [caller, other] = await sessionsOf(name, 2);
    for (const weak of ['short', 'password123', `${name}-is-me`]) {
      const answer = await changePassword(caller.accessToken, {
        currentPassword: DEFAULT_PASSWORD,
        newPassword: weak,
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('weak_password');
    }
    for (const body of [
      {},
      { currentPassword: DEFAULT_PASSWORD },
      { newPassword: NEW_PASSWORD },
      { currentPassword: 1, newPassword: NEW_PASSWORD },
    ]) {
      const answer = await changePassword(caller.accessToken, body);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toBe('invalid_request');
    }
    expect((await service.me(other.accessToken)).status).toBe(200);
    expect((await service.login(name, DEFAULT_PASSWORD)).status).toBe(200);
  });

  it('needs a valid token of a live session', async () => {
    const [caller] = await sessionsOf(nextName(), 1);
    await service.post('/auth/logout', undefined, bearer(caller.accessToken));
    const answer = await changePassword(caller.accessToken, {
      currentPassword: DEFAULT_PASSWORD,
      newPassword: NEW_PASSWORD,
    });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('session_revoked');
  });
});

describe('DELETE /auth/account', () => {
  it('revokes every session, deletes the user’s items and frees the name for an account that shares nothing', async () => {
    const name = nextName();
    const [first, caller] = await sessionsOf(name, 2);
    const oldUserId = claimsOf(caller.accessToken).sub;
    const response = await deleteAccount(caller.accessToken, { password: DEFAULT_PASSWORD });
    expect(response.status).toBe(204);
    expect(await service.storedItem(`user#${name}`)).toBeUndefined();
    for (const tokens of [first, caller]) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
    }
    expect((await service.login(name)).status).toBe(401);
    for (const tokens of [first, caller])
      expect(await service.storedItem(`session#${claimsOf(tokens.accessToken).sid}`)).toBeUndefined();
    // What stays is a tombstone of the id, with no name, role or flag, swept by the TTL.
    const tombstone = await service.storedItem(`account#${oldUserId}`);
    expect(tombstone).toMatchObject({ deleted: true });
    expect(tombstone?.username).toBeUndefined();
    expect(typeof tombstone?.ttl).toBe('number');

    // Anyone may take the name again; the new account shares nothing with the old one.
    const registered = await service.post('/auth/register', { username: name, password: NEW_PASSWORD });
    expect(registered.status).toBe(201);
    expect(registered.json.userId).not.toBe(oldUserId);
    const fresh = (await service.login(name, NEW_PASSWORD)).json;
    expect((await service.me(fresh.accessToken)).status).toBe(200);
    const listed = await service.request('GET', '/auth/sessions', { headers: bearer(fresh.accessToken) });
    expect(listed.json.sessions).toHaveLength(1);
    for (const tokens of [first, caller]) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).status).toBe(401);
    }
  });

  it('refuses a wrong password with 401 invalid_credentials and deletes nothing', async () => {
    const name = nextName();
    const [caller] = await sessionsOf(name, 1);
    const answer = await deleteAccount(caller.accessToken, { password: 'not my password at all' });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_credentials');
    // Counted against the calling session's own count, not the name's.
    expect((await service.storedItem(`session#${claimsOf(caller.accessToken).sid}`))?.reauth?.f).toBe(1);
    expect((await service.storedItem(`user#${name}`))?.hourCount).toBeUndefined();
    expect((await service.me(caller.accessToken)).status).toBe(200);
    const missing = await deleteAccount(caller.accessToken, {});
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
  });
});

describe('administration: disable, enable, revoke-sessions', () => {
  it('disable revokes every session at once; the right password then gets 403 account_disabled, a wrong one 401', async () => {
    const name = nextName();
    const sessions = await sessionsOf(name, 2);
    const shown = await disableUser(defaultServices(), name);
    expect(shown.disabled).toBe(true);
    for (const tokens of sessions) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
    }
    const right = await service.login(name);
    expect(right.status).toBe(403);
    expect(right.json.error).toBe('account_disabled');
    const wrong = await service.login(name, 'not my password at all');
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_credentials');

    expect((await enableUser(defaultServices(), name)).disabled).toBe(false);
    const again = await service.login(name);
    expect(again.status).toBe(200);
    expect((await service.me(again.json.accessToken)).status).toBe(200);
    for (const tokens of sessions) expect((await service.me(tokens.accessToken)).status).toBe(401);
  });

  it('revoke-sessions ends every session; new logins work', async () => {
    const name = nextName();
    const sessions = await sessionsOf(name, 2);
    await revokeUserSessions(defaultServices(), name);
    for (const tokens of sessions) expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await service.me((await service.login(name)).json.accessToken)).status).toBe(200);
  });

  it('never shows a hash, and refuses an unknown user', async () => {
    const name = nextName();
    await sessionsOf(name, 1);
    const shown = await showUser(defaultServices(), name);
    expect(JSON.stringify(shown)).not.toContain('argon2');
    expect(shown).toMatchObject({ username: name, roles: [], disabled: false });
    await expect(showUser(defaultServices(), 'nobody-here')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('roles', () => {
  it('are in access tokens ([] when none), the authorizer context and /me, from the next login or refresh', async () => {
    const name = nextName();
    const [before] = await sessionsOf(name, 1);
    expect(claimsOf(before.accessToken).roles).toEqual([]);
    expect(claimsOf(before.refreshToken).roles).toBeUndefined();
    expect((await service.me(before.accessToken)).json.roles).toEqual([]);

    const updated = await updateUserRoles(defaultServices(), name, {
      add: ['admin', 'billing:read'],
      remove: [],
    });
    expect(updated.roles).toEqual(['admin', 'billing:read']);
    // The token already issued keeps what it carries.
    expect((await service.me(before.accessToken)).json.roles).toEqual([]);

    const refreshed = (await refresh(before.refreshToken)).json;
    expect(claimsOf(refreshed.accessToken).roles).toEqual(['admin', 'billing:read']);
    expect((await service.me(refreshed.accessToken)).json.roles).toEqual(['admin', 'billing:read']);
    const login = (await service.login(name)).json;
    expect(claimsOf(login.accessToken).roles).toEqual(['admin', 'billing:read']);

    await updateUserRoles(defaultServices(), name, { add: [], remove: ['admin'] });
    const after = (await service.login(name)).json;
    expect((await service.me(after.accessToken)).json.roles).toEqual(['billing:read']);
  });

  it('refuses a role name with a comma or outside the pattern', async () => {
    const name = nextName();
    await sessionsOf(name, 1);
    for (const role of ['a,b', 'Admin', '', ' x']) {
      await expect(
        updateUserRoles(defaultServices(), name, { add: [role], remove: [] }),
      ).rejects.toMatchObject({ code: 'invalid_request' });
    }
  });
});
