import { parseSetCookie } from 'cookie';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import { defaults } from '../../lib/config.ts';
import { httpFunction } from '../../lib/http/function.ts';
import {
  cookiePath,
  DEVICE_TOKEN_COOKIE,
  REFRESH_TOKEN_COOKIE,
  tokenTransport,
} from '../../lib/http/token-transport.ts';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { useFakeClock } from '../support/clock.ts';
import {
  type ApiResponse,
  claimsOf,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
} from '../support/service.ts';

/**
 * The cookie transport (API.md, "Cookie transport (browsers)"): `X-Token-Transport: cookie` moves the refresh
 * token out of the body into an HttpOnly cookie on login and refresh, refresh and logout read it only with the
 * header, foreign origins are refused, logout clears it, and the body transport is unchanged.
 */
const GRACE = 10;
const HOST = 'localhost:3000';
const OWN_ORIGIN = `http://${HOST}`;
const LISTED_ORIGIN = 'https://app.example.com';
const FOREIGN_ORIGIN = 'https://evil.example.net';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ REFRESH_REUSE_GRACE: String(GRACE), CORS_ORIGINS: LISTED_ORIGIN });
});
afterAll(() => service.close());
const clock = useFakeClock();

/** What a browser on the service's own origin sends along with a cookie-transport request. */
const browser = (origin = OWN_ORIGIN) => ({ host: HOST, origin, 'x-token-transport': 'cookie' });

let users = 0;
const freshName = () => `cookie-${++users}`;

/** The answer's `Set-Cookie`s named `name`, parsed. */
const cookiesOf = (response: ApiResponse, name: string) =>
  response.headers
    .getSetCookie()
    .map((value) => ({ raw: value, ...parseSetCookie(value) }))
    .filter((cookie) => cookie.name === name);

/**
 * The one refresh-token `Set-Cookie` of an answer, parsed (`undefined` when there is none). A login also sets
 * the device token's cookie (API.md "Known devices"), on the login routes only.
 */
function refreshCookieOf(response: ApiResponse) {
  const cookies = cookiesOf(response, REFRESH_TOKEN_COOKIE);
  expect(cookies.length).toBeLessThanOrEqual(1);
  return cookies[0];
}

/** The `Cookie` request header a browser sends back for that cookie. */
const cookieHeader = (value: string) => ({ cookie: `${REFRESH_TOKEN_COOKIE}=${value}` });

async function cookieLogin(name = freshName(), origin = OWN_ORIGIN) {
  const registered = await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
  expect(registered.status).toBe(201);
  const response = await service.post(
    '/auth/login',
    { username: name, password: DEFAULT_PASSWORD },
    browser(origin),
  );
  expect(response.status).toBe(200);
  const cookie = refreshCookieOf(response);
  if (!cookie?.value) throw new Error('no refresh token cookie');
  return { response, cookie: cookie.value, accessToken: response.json.accessToken as string };
}

const cookieRefresh = (cookie: string | undefined, headers: Record<string, string> = browser()) =>
  service.request('POST', '/auth/refresh', {
    headers: { ...headers, ...(cookie !== undefined && cookieHeader(cookie)) },
  });

const cookieLogout = (cookie: string | undefined, headers: Record<string, string> = browser()) =>
  service.request('POST', '/auth/logout', {
    headers: { ...headers, ...(cookie !== undefined && cookieHeader(cookie)) },
  });

describe('login with X-Token-Transport: cookie', () => {
  it('answers the pair without refreshToken and sets it in one HttpOnly, Secure, SameSite=Strict cookie on the auth routes for refreshExpiresIn seconds', async () => {
    const { response } = await cookieLogin();
    expect(Object.keys(response.json).sort()).toEqual(
      ['accessToken', 'expiresIn', 'refreshExpiresIn', 'tokenType'].sort(),
    );
    expect(response.json.tokenType).toBe('Bearer');
    expect(response.headers.get('cache-control')).toContain('no-store');
    const cookie = refreshCookieOf(response);
    expect(cookie).toMatchObject({
      name: REFRESH_TOKEN_COOKIE,
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: '/auth',
      maxAge: response.json.refreshExpiresIn,
    });
    expect(cookie?.domain).toBeUndefined();
    // The cookie holds the session's refresh token: the one the store knows by its hash.
    const value = cookie?.value ?? '';
    expect(claimsOf(value)).toMatchObject({
      token_use: 'refresh',
      sid: claimsOf(response.json.accessToken).sid,
    });
    const session = await service.storedItem(`session#${claimsOf(value).sid}`);
    expect(session?.refreshHash).toBe(hashRefreshToken(value));
    // The device token rides in a cookie of its own, as HttpOnly, sent to the login routes only, living as long
    // as the device token (DEVICE_TOKEN_TTL), and is not in the body.
    const [device, ...more] = cookiesOf(response, DEVICE_TOKEN_COOKIE);
    expect(more).toEqual([]);
    expect(device).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: '/auth/login',
      maxAge: Number(defaults.DEVICE_TOKEN_TTL),
    });
    expect(device?.value).toMatch(new RegExp(`^${claimsOf(response.json.accessToken).sub}\\.`));
    expect(response.json.deviceToken).toBeUndefined();
  });

  it('accepts the header in any case and from an origin in CORS_ORIGINS', async () => {
    const name = freshName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    const response = await service.post(
      '/auth/login',
      { username: name, password: DEFAULT_PASSWORD },
      { host: 'auth.example.com', origin: LISTED_ORIGIN, 'x-token-transport': 'Cookie' },
    );
    expect(response.status).toBe(200);
    expect(response.json.refreshToken).toBeUndefined();
    expect(refreshCookieOf(response)?.value).toBeTruthy();
    expect(response.headers.get('access-control-allow-origin')).toBe(LISTED_ORIGIN);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('is refused 403 invalid_origin from an origin that is neither the service own nor listed, before the password is checked', async () => {
    const name = freshName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    for (const origin of [FOREIGN_ORIGIN, 'null', 'http://127.0.0.1:3000', 'https://localhost:3000']) {
      const response = await service.post(
        '/auth/login',
        { username: name, password: 'a wrong password' },
        browser(origin),
      );
      expect(response.status, origin).toBe(403);
      expect(response.json.error).toBe('invalid_origin');
      expect(response.headers.getSetCookie()).toEqual([]);
    }
    // Nothing was counted against the name: the owner logs in at once.
    expect((await service.login(name)).status).toBe(200);
  });

  it('refuses an unknown X-Token-Transport with 400 invalid_request', async () => {
    const response = await service.post(
      '/auth/login',
      { username: 'whoever', password: DEFAULT_PASSWORD },
      { 'x-token-transport': 'header' },
    );
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });
});

describe('the body transport', () => {
  it('is unchanged without the header: the refresh token in the body, no cookie set, and a cookie sent along is ignored', async () => {
    const { cookie } = await cookieLogin();
    const name = freshName();
    await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD });
    const login = await service.post('/auth/login', { username: name, password: DEFAULT_PASSWORD });
    expect(login.status).toBe(200);
    expect(typeof login.json.refreshToken).toBe('string');
    expect(login.headers.getSetCookie()).toEqual([]);

    const refreshed = await service.post('/auth/refresh', { refreshToken: login.json.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(typeof refreshed.json.refreshToken).toBe('string');
    expect(refreshed.headers.getSetCookie()).toEqual([]);

    // The other user's cookie rides along (a browser sends it to every auth route): without the header it is
    // not read, neither by refresh...
    const noBody = await service.request('POST', '/auth/refresh', {
      headers: { host: HOST, origin: OWN_ORIGIN, ...cookieHeader(cookie) },
    });
    expect(noBody.status).toBe(400);
    expect(noBody.json.error).toBe('invalid_request');
    // ...nor by logout, and its session lives on.
    const logout = await service.request('POST', '/auth/logout', {
      headers: { host: HOST, origin: OWN_ORIGIN, ...cookieHeader(cookie) },
    });
    expect(logout.status).toBe(400);
    expect((await cookieRefresh(cookie)).status).toBe(200);
  });
});

describe('refresh with X-Token-Transport: cookie', () => {
  it('rotates the cookie: a new refresh token in a new cookie, the body without refreshToken, the new cookie working next', async () => {
    const { cookie } = await cookieLogin();
    const refreshed = await cookieRefresh(cookie);
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refreshToken).toBeUndefined();
    expect((await service.me(refreshed.json.accessToken)).status).toBe(200);
    const next = refreshCookieOf(refreshed);
    expect(next).toMatchObject({ httpOnly: true, secure: true, sameSite: 'strict', path: '/auth' });
    expect(next?.maxAge).toBe(refreshed.json.refreshExpiresIn);
    expect(next?.value).not.toBe(cookie);
    const session = await service.storedItem(`session#${claimsOf(cookie).sid}`);
    expect(session?.refreshHash).toBe(hashRefreshToken(next?.value ?? ''));
    expect(session?.previousRefreshHash).toBe(hashRefreshToken(cookie));
    expect((await cookieRefresh(next?.value)).status).toBe(200);
  });

  it('answers a retry of the previous cookie within the grace window with the same pair and sets the same cookie again', async () => {
    const { cookie } = await cookieLogin();
    const lost = await cookieRefresh(cookie);
    clock.advance(3);
    const retried = await cookieRefresh(cookie);
    expect(retried.status).toBe(200);
    expect(retried.json.accessToken).toBe(lost.json.accessToken);
    expect(retried.json.refreshExpiresIn).toBe(lost.json.refreshExpiresIn - 3);
    const again = refreshCookieOf(retried);
    expect(again?.value).toBe(refreshCookieOf(lost)?.value);
    expect(again?.maxAge).toBe(retried.json.refreshExpiresIn);
    expect(again).toMatchObject({ httpOnly: true, secure: true, sameSite: 'strict', path: '/auth' });
  });

  it('revokes the session when a rotated-out cookie comes back after the grace window', async () => {
    const { cookie } = await cookieLogin();
    const rotated = refreshCookieOf(await cookieRefresh(cookie))?.value;
    clock.advance(GRACE + 1);
    const replay = await cookieRefresh(cookie);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('refresh_token_reused');
    expect(refreshCookieOf(replay)?.maxAge).toBe(0);
    expect((await cookieRefresh(rotated)).json.error).toBe('session_revoked');
  });

  it('takes a refreshToken in the body over the cookie, and still answers with the cookie', async () => {
    const first = await cookieLogin();
    const second = await cookieLogin();
    const response = await service.request('POST', '/auth/refresh', {
      body: { refreshToken: second.cookie },
      headers: { ...browser(), ...cookieHeader(first.cookie) },
    });
    expect(response.status).toBe(200);
    expect(claimsOf(response.json.accessToken).sid).toBe(claimsOf(second.cookie).sid);
    expect(response.json.refreshToken).toBeUndefined();
    expect(claimsOf(refreshCookieOf(response)?.value ?? '').sid).toBe(claimsOf(second.cookie).sid);
  });

  it('clears the cookie with any 401: a session that is over, or a cookie that is not a token', async () => {
    const { cookie, accessToken } = await cookieLogin();
    await service.post('/auth/logout-all', undefined, { authorization: `Bearer ${accessToken}` });
    const revoked = await cookieRefresh(cookie);
    expect([revoked.status, revoked.json.error]).toEqual([401, 'session_revoked']);
    expect(refreshCookieOf(revoked)).toMatchObject({
      name: REFRESH_TOKEN_COOKIE,
      value: '',
      maxAge: 0,
      path: '/auth',
    });
    const garbage = await cookieRefresh('not-a-token');
    expect([garbage.status, garbage.json.error]).toEqual([401, 'invalid_token']);
    expect(refreshCookieOf(garbage)?.maxAge).toBe(0);
    const garbageLogout = await cookieLogout('not-a-token');
    expect(garbageLogout.status).toBe(401);
    expect(refreshCookieOf(garbageLogout)?.maxAge).toBe(0);
    // The body transport sets no cookie, whatever the answer.
    const body = await service.post('/auth/refresh', { refreshToken: cookie });
    expect(body.status).toBe(401);
    expect(body.headers.getSetCookie()).toEqual([]);
  });

  it('without a cookie is 401 invalid_token with a bare Bearer challenge: the browser holds no session', async () => {
    const response = await cookieRefresh(undefined);
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('is refused 403 invalid_origin from a foreign origin, and the session is untouched', async () => {
    const { cookie } = await cookieLogin();
    for (const origin of [FOREIGN_ORIGIN, 'null']) {
      const response = await cookieRefresh(cookie, browser(origin));
      expect(response.status).toBe(403);
      expect(response.json.error).toBe('invalid_origin');
      expect(response.headers.getSetCookie()).toEqual([]);
      // No CORS header for an origin that is not on the list: its page cannot even read the refusal.
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    }
    const session = await service.storedItem(`session#${claimsOf(cookie).sid}`);
    expect(session?.refreshHash).toBe(hashRefreshToken(cookie));
    expect((await cookieRefresh(cookie)).status).toBe(200);
  });

  it('works from a listed origin and without an Origin at all (a client that is not a browser)', async () => {
    const { cookie } = await cookieLogin();
    const listed = await cookieRefresh(cookie, browser(LISTED_ORIGIN));
    expect(listed.status).toBe(200);
    const next = refreshCookieOf(listed)?.value;
    const noOrigin = await cookieRefresh(next, { 'x-token-transport': 'cookie' });
    expect(noOrigin.status).toBe(200);
  });
});

describe('logout with X-Token-Transport: cookie', () => {
  it("revokes the cookie's session and clears the cookie (Max-Age=0) on the same path", async () => {
    const { cookie, accessToken } = await cookieLogin();
    const response = await cookieLogout(cookie);
    expect(response.status).toBe(204);
    const cleared = refreshCookieOf(response);
    expect(cleared).toMatchObject({
      name: REFRESH_TOKEN_COOKIE,
      value: '',
      maxAge: 0,
      path: '/auth',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
    });
    expect((await cookieRefresh(cookie)).json.error).toBe('session_revoked');
    expect((await service.me(accessToken)).status).toBe(401);
  });

  it('with only the Bearer access token still revokes the session and clears the cookie', async () => {
    const { cookie, accessToken } = await cookieLogin();
    const response = await cookieLogout(undefined, { ...browser(), authorization: `Bearer ${accessToken}` });
    expect(response.status).toBe(204);
    expect(refreshCookieOf(response)?.maxAge).toBe(0);
    expect((await cookieRefresh(cookie)).json.error).toBe('session_revoked');
  });

  it('is refused 403 invalid_origin from a foreign origin, and the session lives on', async () => {
    const { cookie } = await cookieLogin();
    const response = await cookieLogout(cookie, browser(FOREIGN_ORIGIN));
    expect(response.status).toBe(403);
    expect(response.json.error).toBe('invalid_origin');
    expect(response.headers.getSetCookie()).toEqual([]);
    expect((await cookieRefresh(cookie)).status).toBe(200);
  });

  it('without any token is 400 invalid_request, as in the body transport', async () => {
    const response = await cookieLogout(undefined);
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });
});

describe('racing refreshes with one cookie (tabs of one browser)', () => {
  it('all succeed with the same pair and exactly one rotation, in any order of arrival', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), fc.scheduler(), async (tabs, scheduler) => {
        const { cookie } = await cookieLogin();
        const sent = Array.from({ length: tabs }, () =>
          scheduler.schedule(Promise.resolve()).then(() => cookieRefresh(cookie)),
        );
        await scheduler.waitAll();
        const answers = await Promise.all(sent);
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
        const cookies = new Set(answers.map((answer) => refreshCookieOf(answer)?.value));
        const accessTokens = new Set(answers.map((answer) => answer.json.accessToken));
        expect(cookies.size).toBe(1);
        expect(accessTokens.size).toBe(1);
        const [rotated] = [...cookies];
        const session = await service.storedItem(`session#${claimsOf(cookie).sid}`);
        expect(session?.refreshHash).toBe(hashRefreshToken(rotated ?? ''));
        expect(session?.previousRefreshHash).toBe(hashRefreshToken(cookie));
        expect(session?.revoked).toBe(false);
        // Every tab goes on with the one cookie the browser now holds.
        expect((await cookieRefresh(rotated)).status).toBe(200);
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  it('racing a logout of the same cookie, leave the session logged out whatever the order, with no refresh failing otherwise', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.scheduler(), async (tabs, scheduler) => {
        const { cookie } = await cookieLogin();
        const refreshes = Array.from({ length: tabs }, () =>
          scheduler.schedule(Promise.resolve()).then(() => cookieRefresh(cookie)),
        );
        const logout = scheduler.schedule(Promise.resolve()).then(() => cookieLogout(cookie));
        await scheduler.waitAll();
        expect((await logout).status).toBe(204);
        for (const answer of await Promise.all(refreshes)) {
          if (answer.status !== 200) expect(answer.json.error).toBe('session_revoked');
        }
        const answers = await Promise.all(refreshes);
        const issued = answers.flatMap((answer) => refreshCookieOf(answer)?.value ?? []);
        for (const token of [cookie, ...issued]) {
          expect((await cookieRefresh(token)).status).toBe(401);
        }
        expect((await service.storedItem(`session#${claimsOf(cookie).sid}`))?.revoked).toBe(true);
      }),
      { numRuns: 15 },
    );
  }, 60_000);
});

describe('a login that answers a device token (API.md "Known devices")', () => {
  // A login endpoint as the helper's doc shows it: the presented device token read, a pair and a device token
  // answered.
  const presented: (string | undefined)[] = [];
  const loginLike = httpFunction(async (request) => {
    const transport = tokenTransport(request);
    presented.push(transport.deviceToken(request.body));
    return transport.pairAnswer(
      {
        accessToken: 'access',
        refreshToken: 'refresh',
        tokenType: 'Bearer',
        expiresIn: 600,
        refreshExpiresIn: 86400,
        deviceToken: 'device-1',
      },
      { deviceTokenMaxAge: 31_536_000 },
    );
  });
  const call = (headers: Record<string, string>, body: unknown = {}) =>
    loginLike(
      proxyEvent({
        method: 'POST',
        path: '/auth/login',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }),
      lambdaContext('login'),
    );

  it('with the cookie transport, sets it in its own HttpOnly cookie on the login routes, for its lifetime, not in the body', async () => {
    const answer = await call({ 'x-token-transport': 'cookie' });
    expect(JSON.parse(answer.body)).toEqual({
      accessToken: 'access',
      tokenType: 'Bearer',
      expiresIn: 600,
      refreshExpiresIn: 86400,
    });
    const cookies = (answer.multiValueHeaders?.['Set-Cookie'] ?? []).map((value) =>
      parseSetCookie(String(value)),
    );
    expect(cookies.find((cookie) => cookie.name === DEVICE_TOKEN_COOKIE)).toMatchObject({
      value: 'device-1',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      path: '/auth/login',
      maxAge: 31_536_000,
    });
    expect(cookies.find((cookie) => cookie.name === REFRESH_TOKEN_COOKIE)?.path).toBe('/auth');
  });

  it('with the body transport, answers it in the body and sets no cookie', async () => {
    const answer = await call({});
    expect(JSON.parse(answer.body)).toMatchObject({ refreshToken: 'refresh', deviceToken: 'device-1' });
    expect(answer.multiValueHeaders?.['Set-Cookie']).toBeUndefined();
  });

  it('reads the presented one from the body, or with the cookie transport from its cookie; never the cookie without the header', async () => {
    presented.length = 0;
    await call({ 'x-token-transport': 'cookie', cookie: `${DEVICE_TOKEN_COOKIE}=from-cookie` });
    await call(
      { 'x-token-transport': 'cookie', cookie: `${DEVICE_TOKEN_COOKIE}=from-cookie` },
      { deviceToken: 'from-body' },
    );
    await call({ cookie: `${DEVICE_TOKEN_COOKIE}=from-cookie` });
    await call({}, { deviceToken: 42 });
    expect(presented).toEqual(['from-cookie', 'from-body', undefined, undefined]);
  });
});

describe('the cookie path', () => {
  it("is the auth routes under the path the client used: API Gateway's stage, a custom domain's base path, or none", () => {
    const event = (sent: string | undefined, route: string, stage = 'v1') =>
      ({ path: route, requestContext: { path: sent, stage } }) as Parameters<typeof cookiePath>[0];
    expect(cookiePath(event('/v1/auth/refresh', '/auth/refresh'))).toBe('/v1/auth');
    expect(cookiePath(event('/prod/auth/login', '/auth/login', 'prod'))).toBe('/prod/auth');
    // A custom domain: its base path mapping, whatever the stage is called.
    expect(cookiePath(event('/identity/auth/login', '/auth/login'))).toBe('/identity/auth');
    expect(cookiePath(event('/auth/login', '/auth/login'))).toBe('/auth');
    // Without the path as sent, the stage.
    expect(cookiePath(event(undefined, '/auth/login', 'v1'))).toBe('/v1/auth');
  });
});
