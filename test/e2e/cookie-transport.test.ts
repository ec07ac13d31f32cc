import { parseSetCookie } from 'cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEVICE_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE } from '../../lib/http/token-transport.ts';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * Every row of the cookie transport (API.md, "Cookie transport (browsers)") through `npm start` over HTTP, as a
 * browser's requests arrive: the cookie attributes, rotation, the grace-window retry, the header required,
 * foreign origins refused, logout clearing, the body transport unchanged, and the preflight.
 */
const APP_ORIGIN = 'https://app.example.com';
let server: NpmStart;
let ownOrigin: string;

beforeAll(async () => {
  server = await npmStart(['--in-memory'], { CORS_ORIGINS: APP_ORIGIN });
  ownOrigin = server.url;
}, 90_000);
afterAll(() => server?.kill());

const password = 'correct horse battery staple';

async function send(path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text ? JSON.parse(text) : undefined,
    // The refresh token's cookie (a login also sets the device token's, see below).
    cookies: response.headers
      .getSetCookie()
      .map((value) => parseSetCookie(value))
      .filter((cookie) => cookie.name !== DEVICE_TOKEN_COOKIE),
    deviceCookies: response.headers
      .getSetCookie()
      .map((value) => parseSetCookie(value))
      .filter((cookie) => cookie.name === DEVICE_TOKEN_COOKIE),
  };
}

const cookieMode = (origin = ownOrigin) => ({ origin, 'x-token-transport': 'cookie' });
const withCookie = (value: string) => ({ cookie: `${REFRESH_TOKEN_COOKIE}=${value}` });

let users = 0;
async function cookieLogin() {
  const username = `e2e-cookie-${++users}`;
  expect((await send('/auth/register', { body: { username, password } })).status).toBe(201);
  const login = await send('/auth/login', { body: { username, password }, headers: cookieMode() });
  expect(login.status).toBe(200);
  return { login, cookie: login.cookies[0]?.value ?? '' };
}

describe('npm start, with X-Token-Transport: cookie', () => {
  it('login sets the refresh token in one HttpOnly, Secure, SameSite=Strict cookie on /auth for refreshExpiresIn, not in the body', async () => {
    const { login, cookie } = await cookieLogin();
    expect(login.json.refreshToken).toBeUndefined();
    expect(typeof login.json.accessToken).toBe('string');
    expect(login.cookies).toHaveLength(1);
    expect(login.cookies[0]).toMatchObject({
      name: REFRESH_TOKEN_COOKIE,
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: '/auth',
      maxAge: login.json.refreshExpiresIn,
    });
    expect(cookie.split('.')).toHaveLength(3);
    // The device token (API.md "Known devices") in a cookie of its own, sent to the login routes only.
    expect(login.json.deviceToken).toBeUndefined();
    expect(login.deviceCookies).toHaveLength(1);
    expect(login.deviceCookies[0]).toMatchObject({ httpOnly: true, secure: true, path: '/auth/login' });
  });

  it('refresh rotates the cookie, and a retry of the old one within the grace window gets the same cookie again', async () => {
    const { cookie } = await cookieLogin();
    const refreshed = await send('/auth/refresh', { headers: { ...cookieMode(), ...withCookie(cookie) } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshToken).toBeUndefined();
    const next = refreshed.cookies[0]?.value;
    expect(next).toBeTruthy();
    expect(next).not.toBe(cookie);
    const retried = await send('/auth/refresh', { headers: { ...cookieMode(), ...withCookie(cookie) } });
    expect(retried.status).toBe(200);
    expect(retried.cookies[0]?.value).toBe(next);
    expect(retried.json.accessToken).toBe(refreshed.json.accessToken);
    const me = await fetch(`${server.url}/me`, {
      headers: { authorization: `Bearer ${retried.json.accessToken}` },
    });
    expect(me.status).toBe(200);
  });

  it('refresh and logout ignore the cookie without the header, and refresh without a cookie is 401', async () => {
    const { cookie } = await cookieLogin();
    const refresh = await send('/auth/refresh', { headers: { origin: ownOrigin, ...withCookie(cookie) } });
    expect([refresh.status, refresh.json.error]).toEqual([400, 'invalid_request']);
    const logout = await send('/auth/logout', { headers: { origin: ownOrigin, ...withCookie(cookie) } });
    expect([logout.status, logout.json.error]).toEqual([400, 'invalid_request']);
    const none = await send('/auth/refresh', { headers: cookieMode() });
    expect([none.status, none.json.error]).toEqual([401, 'invalid_token']);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    // The session was never touched.
    expect(
      (await send('/auth/refresh', { headers: { ...cookieMode(), ...withCookie(cookie) } })).status,
    ).toBe(200);
  });

  it('a foreign origin is 403 invalid_origin on login, refresh and logout; a listed one is served with credentials allowed', async () => {
    const { cookie } = await cookieLogin();
    for (const path of ['/auth/login', '/auth/refresh', '/auth/logout']) {
      const foreign = await send(path, {
        body: path === '/auth/login' ? { username: 'someone', password } : undefined,
        headers: { ...cookieMode('https://evil.example.net'), ...withCookie(cookie) },
      });
      expect([foreign.status, foreign.json.error], path).toEqual([403, 'invalid_origin']);
      expect(foreign.cookies).toEqual([]);
    }
    const listed = await send('/auth/refresh', {
      headers: { ...cookieMode(APP_ORIGIN), ...withCookie(cookie) },
    });
    expect(listed.status).toBe(200);
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(listed.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it("logout revokes the cookie's session and clears the cookie", async () => {
    const { cookie } = await cookieLogin();
    const logout = await send('/auth/logout', { headers: { ...cookieMode(), ...withCookie(cookie) } });
    expect(logout.status).toBe(204);
    expect(logout.cookies[0]).toMatchObject({
      name: REFRESH_TOKEN_COOKIE,
      value: '',
      maxAge: 0,
      path: '/auth',
    });
    const after = await send('/auth/refresh', { headers: { ...cookieMode(), ...withCookie(cookie) } });
    expect([after.status, after.json.error]).toEqual([401, 'session_revoked']);
  });

  it('a refresh whose session is over is 401 and clears the cookie', async () => {
    const { login, cookie } = await cookieLogin();
    const all = await send('/auth/logout-all', {
      headers: { authorization: `Bearer ${login.json.accessToken}` },
    });
    expect(all.status).toBe(204);
    const after = await send('/auth/refresh', { headers: { ...cookieMode(), ...withCookie(cookie) } });
    expect([after.status, after.json.error]).toEqual([401, 'session_revoked']);
    expect(after.cookies[0]).toMatchObject({ name: REFRESH_TOKEN_COOKIE, value: '', maxAge: 0 });
  });

  it('the body transport is unchanged without the header', async () => {
    const username = `e2e-cookie-${++users}`;
    await send('/auth/register', { body: { username, password } });
    const login = await send('/auth/login', { body: { username, password } });
    expect(typeof login.json.refreshToken).toBe('string');
    expect(login.cookies).toEqual([]);
    const refreshed = await send('/auth/refresh', { body: { refreshToken: login.json.refreshToken } });
    expect(typeof refreshed.json.refreshToken).toBe('string');
    expect(refreshed.cookies).toEqual([]);
  });

  it('answers a preflight from a listed origin with credentials allowed and X-Token-Transport among the headers', async () => {
    const response = await fetch(`${server.url}/auth/refresh`, {
      method: 'OPTIONS',
      headers: {
        origin: APP_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-token-transport',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-headers')).toContain('X-Token-Transport');
  });
});
