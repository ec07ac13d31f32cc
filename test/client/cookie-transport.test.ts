import { AuthClient, SignedOutError } from '@lambda-token-auth/client';
import { parseSetCookie } from 'cookie';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_TOKEN_COOKIE } from '../../lib/http/token-transport.ts';
import { useFakeClock } from '../support/clock.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  type HttpTestService,
  startHttpTestService,
} from '../support/service.ts';

/**
 * The client with `transport: 'cookie'` against the local service over HTTP, with a cookie jar standing in for
 * the browser's: the refresh token never reaches the client, the access token lives in memory only, a new tab
 * resumes with the cookie, and tabs share one refresh.
 */
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService({ ACCESS_TOKEN_TTL: '2' });
});
afterAll(() => service.close());
const clock = useFakeClock();

interface Sent {
  path: string;
  status: number;
  headers: Headers;
  body: string | undefined;
}

/**
 * One browser: a cookie jar shared by its tabs (name -> value and path; honours `Max-Age=0`), and a `fetch`
 * that sends the jar's cookies on the paths they cover and records what went out.
 */
function browser() {
  const jar = new Map<string, { value: string; path: string }>();
  const sent: Sent[] = [];
  const fetchWithJar: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const cookies = [...jar.entries()]
      .filter(([, cookie]) => url.pathname === cookie.path || url.pathname.startsWith(`${cookie.path}/`))
      .map(([name, cookie]) => `${name}=${cookie.value}`);
    if (cookies.length > 0) headers.set('cookie', cookies.join('; '));
    const response = await fetch(url, { ...init, headers });
    for (const value of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(value);
      if (cookie.maxAge === 0 || !cookie.value) jar.delete(cookie.name);
      else jar.set(cookie.name, { value: cookie.value, path: cookie.path ?? '/' });
    }
    sent.push({
      path: url.pathname,
      status: response.status,
      headers,
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    return response;
  };
  return { jar, sent, fetch: fetchWithJar, refreshes: () => sent.filter((s) => s.path === '/auth/refresh') };
}

const clients: AuthClient[] = [];
afterEach(() => {
  // Tabs of one test must not hear the next test's tabs (one broadcast channel per API URL).
  for (const client of clients.splice(0)) client.dispose();
});
const tab = (fetchImpl: typeof fetch) => {
  const client = new AuthClient({ baseUrl: service.url, transport: 'cookie', fetch: fetchImpl });
  clients.push(client);
  return client;
};

let users = 0;
async function signedIn() {
  const chrome = browser();
  const client = tab(chrome.fetch);
  const username = `cookie-client-${++users}`;
  await client.register(username, DEFAULT_PASSWORD);
  await client.login(username, DEFAULT_PASSWORD);
  return { chrome, client, username };
}

async function untilAccessExpired(client: AuthClient): Promise<void> {
  const tokens = await client.tokens();
  if (!tokens) throw new Error('expected tokens');
  const expiredAt = Math.max(claimsOf(tokens.accessToken).exp * 1000, tokens.accessExpiresAt);
  if (Date.now() < expiredAt) clock.advance((expiredAt - Date.now()) / 1000);
}

describe("the client with transport: 'cookie'", () => {
  it('never holds or sends a refresh token: it lives in the cookie jar, and login and refresh ask for the cookie transport', async () => {
    const { chrome, client, username } = await signedIn();
    const tokens = await client.tokens();
    expect(tokens?.accessToken).toBeTruthy();
    expect(tokens).not.toHaveProperty('refreshToken');
    expect(chrome.jar.get(REFRESH_TOKEN_COOKIE)?.path).toBe('/auth');

    await untilAccessExpired(client);
    const me = await client.fetch('/me');
    expect(me.status).toBe(200);
    expect((await me.json()).username).toBe(username);
    const [refresh] = chrome.refreshes();
    expect(refresh?.status).toBe(200);
    expect(refresh?.headers.get('x-token-transport')).toBe('cookie');
    expect(refresh?.headers.get('cookie')).toContain(`${REFRESH_TOKEN_COOKIE}=`);
    expect(JSON.parse(refresh?.body ?? '{}')).not.toHaveProperty('refreshToken');
    const login = chrome.sent.find((request) => request.path === '/auth/login');
    expect(login?.headers.get('x-token-transport')).toBe('cookie');
    for (const request of chrome.sent) expect(request.body ?? '').not.toContain('"refreshToken"');
  });

  it('signs a new tab in by a refresh with the cookie (resume), and its first fetch does so by itself', async () => {
    const { chrome, username } = await signedIn();
    const reloaded = tab(chrome.fetch);
    expect(await reloaded.tokens()).toBeNull();
    const events: string[] = [];
    reloaded.on('signedIn', () => events.push('signedIn'));
    expect(await reloaded.resume()).toBe(true);
    expect(events).toEqual(['signedIn']);
    expect((await (await reloaded.fetch('/me')).json()).username).toBe(username);

    const another = tab(browser().fetch);
    expect(await another.resume()).toBe(false);
    const third = tab(chrome.fetch);
    expect((await third.fetch('/me')).status).toBe(200);
  });

  it('refreshes once for two tabs whose access tokens expire together, and both stay signed in', async () => {
    const { chrome, client: first } = await signedIn();
    const second = tab(chrome.fetch);
    expect(await second.resume()).toBe(true);
    const before = chrome.refreshes().length;
    await untilAccessExpired(first);
    await untilAccessExpired(second);

    const answers = await Promise.all([first.fetch('/me'), second.fetch('/me'), first.fetch('/me')]);

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(
      chrome
        .refreshes()
        .slice(before)
        .map((request) => request.status),
    ).toEqual([200]);
    expect((await first.tokens())?.accessToken).toBe((await second.tokens())?.accessToken);
  });

  it('logs out: the cookie is cleared, every tab is signed out, and a new tab cannot resume', async () => {
    const { chrome, client: first } = await signedIn();
    const second = tab(chrome.fetch);
    await second.resume();
    const reasons: string[] = [];
    second.on('signedOut', ({ reason }) => reasons.push(reason));
    const accessToken = (await first.tokens())?.accessToken ?? '';

    await first.logout();

    expect(chrome.jar.has(REFRESH_TOKEN_COOKIE)).toBe(false);
    await expect.poll(() => reasons, { timeout: 5_000 }).toEqual(['cleared_elsewhere']);
    expect(await second.tokens()).toBeNull();
    expect((await service.me(accessToken)).status).toBe(401);
    expect(await tab(chrome.fetch).resume()).toBe(false);
    await expect(second.fetch('/me')).rejects.toBeInstanceOf(SignedOutError);
  });

  it('logs out a session this tab never resumed: the cookie alone ends it', async () => {
    const { chrome } = await signedIn();
    const cookie = chrome.jar.get(REFRESH_TOKEN_COOKIE)?.value ?? '';
    const fresh = tab(chrome.fetch);
    await fresh.logout();
    expect(chrome.jar.has(REFRESH_TOKEN_COOKIE)).toBe(false);
    const refresh = await service.request('POST', '/auth/refresh', {
      headers: { 'x-token-transport': 'cookie', cookie: `${REFRESH_TOKEN_COOKIE}=${cookie}` },
    });
    expect(refresh.json.error).toBe('session_revoked');
    // Nothing to end at all is no error either.
    await tab(browser().fetch).logout();
  });

  it('refuses a storage of its own, which would put the token where scripts can read it', () => {
    expect(
      () =>
        new AuthClient({
          baseUrl: service.url,
          transport: 'cookie',
          storage: { get: () => null, set: () => {}, clear: () => {} },
        }),
    ).toThrow(/memory only/);
  });
});
