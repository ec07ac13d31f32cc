import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import { claimsOf, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());
const clock = useFakeClock();

let userCount = 0;
const nextName = () => `leaver-${++userCount}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const refresh = (refreshToken: string) => service.post('/auth/refresh', { refreshToken });

describe('POST /auth/logout', () => {
  it('with the access token: the authorizer refuses it and the refresh token gets session_revoked', async () => {
    const tokens = await service.signUp(nextName());
    const response = await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
  });

  it('with the refresh token in the body: both tokens die', async () => {
    const tokens = await service.signUp(nextName());
    expect((await service.post('/auth/logout', { refreshToken: tokens.refreshToken })).status).toBe(204);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
  });

  it('is 204 again when logging out twice', async () => {
    const tokens = await service.signUp(nextName());
    expect((await service.post('/auth/logout', undefined, bearer(tokens.accessToken))).status).toBe(204);
    expect((await service.post('/auth/logout', undefined, bearer(tokens.accessToken))).status).toBe(204);
  });

  it('still revokes the session with an expired but genuine token', async () => {
    const tokens = await service.signUp(nextName());
    clock.advance(601);
    expect((await service.post('/auth/logout', undefined, bearer(tokens.accessToken))).status).toBe(204);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
  });

  it('answers 401 invalid_token with a Bearer challenge for a token that fails verification', async () => {
    const tokens = await service.signUp(nextName());
    const response = await service.post('/auth/logout', undefined, bearer(`${tokens.accessToken}x`));
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect((await service.me(tokens.accessToken)).status).toBe(200);
  });

  it('answers 400 invalid_request when no token at all is sent', async () => {
    const response = await service.post('/auth/logout', {});
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });

  it('leaves the user’s other sessions alone', async () => {
    const name = nextName();
    const first = await service.signUp(name);
    const second = (await service.login(name)).json;
    await service.post('/auth/logout', undefined, bearer(first.accessToken));
    expect((await service.me(second.accessToken)).status).toBe(200);
  });
});

describe('POST /auth/logout-all', () => {
  it('revokes every session of the user at the authorizer and at refresh', async () => {
    const name = nextName();
    const sessions = [
      await service.signUp(name),
      (await service.login(name)).json,
      (await service.login(name)).json,
    ];
    const bystander = await service.signUp(nextName());
    expect((await service.post('/auth/logout-all', undefined, bearer(sessions[1].accessToken))).status).toBe(
      204,
    );
    for (const tokens of sessions) {
      expect((await service.me(tokens.accessToken)).status).toBe(401);
      expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
    }
    expect((await service.me(bystander.accessToken)).status).toBe(200);
  });

  it('answers 401 with a plain Bearer challenge when no token is sent', async () => {
    const response = await service.post('/auth/logout-all');
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 401 invalid_token for an expired access token, revoking nothing', async () => {
    const tokens = await service.signUp(nextName());
    clock.advance(601);
    const response = await service.post('/auth/logout-all', undefined, bearer(tokens.accessToken));
    expect(response.json.error).toBe('invalid_token');
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
  });

  it('answers 401 session_revoked when the caller’s own session is already logged out, revoking nothing', async () => {
    const name = nextName();
    const loggedOut = await service.signUp(name);
    const other = (await service.login(name)).json;
    await service.post('/auth/logout', { refreshToken: loggedOut.refreshToken });
    const response = await service.post('/auth/logout-all', undefined, bearer(loggedOut.accessToken));
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('session_revoked');
    expect((await service.me(other.accessToken)).status).toBe(200);
  });
});

describe('GET /me behind the authorizer', () => {
  it('answers with the user, the username, the session and the roles from the authorizer context', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    const response = await service.me(tokens.accessToken);
    expect(response.json).toEqual({
      userId: claimsOf(tokens.accessToken).sub,
      username: name,
      sessionId: claimsOf(tokens.accessToken).sid,
      roles: [],
      amr: ['pwd'],
      authTime: claimsOf(tokens.accessToken).auth_time,
    });
  });

  it.each([
    ['no Authorization header', undefined],
    ['a malformed token', 'Bearer not-a-token'],
    ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz'],
    ['an empty Bearer', 'Bearer '],
  ])('answers 401 {"message":"Unauthorized"} for %s', async (_name, authorization) => {
    const response = await service.request('GET', '/me', { headers: authorization ? { authorization } : {} });
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ message: 'Unauthorized' });
  });

  it('answers 401 for a valid access token sent without the Bearer scheme', async () => {
    const tokens = await service.signUp(nextName());
    const response = await service.request('GET', '/me', { headers: { authorization: tokens.accessToken } });
    expect(response.status).toBe(401);
  });

  it('answers 401 for an expired access token', async () => {
    const tokens = await service.signUp(nextName());
    clock.advance(601);
    expect((await service.me(tokens.accessToken)).json).toEqual({ message: 'Unauthorized' });
  });

  it('answers 401 for a refresh token presented as an access token', async () => {
    const tokens = await service.signUp(nextName());
    expect((await service.me(tokens.refreshToken)).status).toBe(401);
  });
});
