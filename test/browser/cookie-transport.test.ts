import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_TOKEN_COOKIE } from '../../lib/http/token-transport.ts';
import {
  CHROMIUM,
  type LocalServerProcess,
  requireChromium,
  startLocalServerProcess,
} from '../support/browser.ts';
import { TEST_SECRET } from '../support/service.ts';

/**
 * The demo page in cookie mode in a real headless Chromium (API.md, "Cookie transport (browsers)"), served by
 * the local server as `npm start` runs it, at `http://localhost:<port>` (a secure context, so the `Secure`
 * cookie is kept over plain http). No script on the page can find the refresh token; tabs refreshing at once
 * all stay signed in; pages on other origins cannot use the user's cookie.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const PASSWORD = 'correct horse battery staple';

let server: LocalServerProcess;
/** The demo page's (and the API's) origin: `localhost`, as a user opens it. */
let demo: string;
/** Pages on other origins, served by a second local server. */
let otherServer: Server;
/** Same site as the demo (`localhost`, another port) but not listed in CORS_ORIGINS. */
let sameSiteStranger: string;
/** Listed in CORS_ORIGINS, but another site (`127.0.0.1`). */
let listedOtherSite: string;
let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];
/** Every answer to an auth route the browser received, with the page origin that asked. */
const authAnswers: { path: string; status: number; from: string }[] = [];

beforeAll(async () => {
  requireChromium();
  otherServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>a page on another origin</title>');
  });
  await new Promise<void>((resolve) => otherServer.listen(0, '127.0.0.1', resolve));
  const { port: otherPort } = otherServer.address() as AddressInfo;
  sameSiteStranger = `http://localhost:${otherPort}`;
  listedOtherSite = `http://127.0.0.1:${otherPort}`;
  server = await startLocalServerProcess({
    PORT: '0',
    ACCESS_TOKEN_TTL: '3',
    JWT_SECRET: TEST_SECRET,
    CORS_ORIGINS: listedOtherSite,
  });
  demo = `http://localhost:${server.port}`;
  userDataDir = await mkdtemp(join(tmpdir(), 'cookie-transport-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  context.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/auth/') && response.request().method() !== 'OPTIONS') {
      authAnswers.push({
        path: url.pathname,
        status: response.status(),
        from: response.frame()?.url() ? new URL(response.frame().url()).origin : '',
      });
    }
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await new Promise((resolve) => otherServer?.close(resolve));
});

async function openDemo(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // A tab that opens without a session asks for one with the cookie (resume) and is told 401: expected, and
    // Chromium logs every 4xx answer to fetch as a console error.
    const at = message.location().url;
    if (at && new URL(at).pathname === '/auth/refresh' && message.text().includes('401')) return;
    pageErrors.push(message.text());
  });
  await page.goto(`${demo}/`);
  return page;
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel as string)?.textContent?.includes(expected as string),
    [selector, text],
    { timeout: 15_000 },
  );
}

async function callMe(page: Page): Promise<string> {
  await page.evaluate(() => {
    const output = document.querySelector('#me-output');
    if (output) output.textContent = '';
  });
  await page.click('#call-me');
  await page.waitForFunction(() => (document.querySelector('#me-output')?.textContent ?? '') !== '');
  return (await page.textContent('#me-output')) ?? '';
}

/** The refresh token cookie in the browser's jar (seen from outside the page, as the test harness). */
async function refreshCookie() {
  return (await context.cookies(`${demo}/auth/refresh`)).find(
    (cookie) => cookie.name === REFRESH_TOKEN_COOKIE,
  );
}

/**
 * Everything a script on `page` can read of its origin's storage: `document.cookie`, every `localStorage` and
 * `sessionStorage` entry, and every record of every IndexedDB database, as one string.
 */
const everythingScriptsCanRead = (page: Page) =>
  page.evaluate(async () => {
    const found: string[] = [`cookie:${document.cookie}`];
    for (const storage of [localStorage, sessionStorage]) {
      for (let i = 0; i < storage.length; i += 1) {
        const key = storage.key(i) ?? '';
        found.push(`${key}=${storage.getItem(key)}`);
      }
    }
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(info.name as string);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const storeName of db.objectStoreNames) {
        const records = await new Promise<unknown[]>((resolve, reject) => {
          const request = db.transaction(storeName).objectStore(storeName).getAll();
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
        found.push(`${info.name}/${storeName}:${JSON.stringify(records)}`);
      }
      db.close();
    }
    return found.join('\n');
  });

/** Any JWT in `text` whose payload says it is a refresh token. */
function refreshTokensIn(text: string): string[] {
  return (text.match(/[\w-]+\.[\w-]+\.[\w-]+/g) ?? []).filter((candidate) => {
    try {
      const payload = JSON.parse(Buffer.from(candidate.split('.')[1] ?? '', 'base64url').toString('utf8'));
      return payload?.token_use === 'refresh';
    } catch {
      return false;
    }
  });
}

describe('the demo page with the cookie transport, in headless Chromium', () => {
  let first: Page;

  it('signs in in cookie mode, and no script on the page finds the refresh token in document.cookie, localStorage, sessionStorage or IndexedDB', async () => {
    first = await openDemo();
    const loginBodies: Record<string, unknown>[] = [];
    first.on('response', async (response) => {
      if (new URL(response.url()).pathname === '/auth/login' && response.status() === 200) {
        loginBodies.push((await response.json()) as Record<string, unknown>);
      }
    });
    // The sign-up form creates the account and logs in with it at once.
    await first.fill('#register-username', 'cookie-browser-user');
    await first.fill('#register-password', PASSWORD);
    await first.click('#register');
    await waitForText(first, '#signed-in-as', 'cookie-browser-user');
    await waitForText(first, '#status', 'Signed in');
    expect(await callMe(first)).toMatch(/^200 .*"username": "cookie-browser-user"/s);

    // The browser holds the refresh token, in the cookie the service set: HttpOnly, Secure, Strict, /auth only.
    const cookie = await refreshCookie();
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/auth' });
    const refreshToken = cookie?.value ?? '';
    expect(refreshTokensIn(refreshToken)).toEqual([refreshToken]);
    expect(loginBodies).toHaveLength(1);
    expect(loginBodies[0]).not.toHaveProperty('refreshToken');

    const visible = await everythingScriptsCanRead(first);
    expect(visible).not.toContain(refreshToken);
    expect(refreshTokensIn(visible)).toEqual([]);
    // Not even a script running on a page under the cookie's own path can read it: HttpOnly, not the path,
    // is what hides it.
    const underAuth = await context.newPage();
    await underAuth.goto(`${demo}/auth/refresh`);
    const visibleUnderAuth = await everythingScriptsCanRead(underAuth);
    expect(visibleUnderAuth).not.toContain(refreshToken);
    expect(refreshTokensIn(visibleUnderAuth)).toEqual([]);
    await underAuth.close();

    // After several refreshes (the access token lives 3 s), still nothing: each new cookie stays out of reach.
    const before = authAnswers.filter((answer) => answer.path === '/auth/refresh').length;
    await first.waitForFunction(
      () => Number(document.querySelector('#refresh-count')?.textContent ?? '0') >= 2,
      undefined,
      { timeout: 20_000 },
    );
    expect(authAnswers.filter((answer) => answer.path === '/auth/refresh').length).toBeGreaterThan(before);
    const rotated = (await refreshCookie())?.value ?? '';
    expect(rotated).not.toBe(refreshToken);
    expect(refreshTokensIn(await everythingScriptsCanRead(first))).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('keeps two tabs signed in: a new tab resumes with the cookie, both refresh for several rotations, and refreshes sent at once by both all succeed', async () => {
    const since = authAnswers.length;
    const second = await openDemo();
    await waitForText(second, '#status', 'Signed in');
    expect(await callMe(second)).toMatch(/^200 /);

    const refreshes = () => authAnswers.slice(since).filter((answer) => answer.path === '/auth/refresh');
    const before = refreshes().length;
    while (refreshes().length < before + 4) await first.waitForTimeout(100);

    // Both tabs fire a refresh with the one cookie at the same instant, past the SDK's cross-tab lock: the
    // service answers both with the same pair (idempotent refresh), so neither tab is signed out.
    const race = () =>
      fetch('/auth/refresh', { method: 'POST', headers: { 'x-token-transport': 'cookie' } }).then(
        async (response) => ({
          status: response.status,
          body: (await response.json()) as { accessToken?: string },
        }),
      );
    const [a, b] = await Promise.all([first.evaluate(race), second.evaluate(race)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.accessToken).toBe(b.body.accessToken);

    // Every refresh the tabs made was a 200: no reuse revocation, and both tabs keep working.
    expect(refreshes().filter((answer) => answer.status !== 200)).toEqual([]);
    expect(await callMe(first)).toMatch(/^200 /);
    expect(await callMe(second)).toMatch(/^200 /);
    expect(pageErrors).toEqual([]);
    await second.close();
  }, 90_000);

  it('lets no page on another origin refresh or log out with the user cookie, whether same-site, listed, or the API under another name', async () => {
    const cookieBefore = (await refreshCookie())?.value;
    expect(cookieBefore).toBeTruthy();
    const attempt = (page: Page) =>
      page.evaluate(async (api) => {
        const outcomes: Record<string, string> = {};
        for (const path of ['/auth/refresh', '/auth/logout']) {
          try {
            const response = await fetch(`${api}${path}`, {
              method: 'POST',
              credentials: 'include',
              headers: { 'x-token-transport': 'cookie' },
            });
            outcomes[path] = String(response.status);
          } catch {
            outcomes[path] = 'blocked';
          }
          // A "simple" request needs no preflight and carries a same-site cookie, but cannot carry the header:
          // the service never reads the cookie without it.
          await fetch(`${api}${path}`, {
            method: 'POST',
            mode: 'no-cors',
            credentials: 'include',
            headers: { 'content-type': 'text/plain' },
            body: '{}',
          }).catch(() => undefined);
        }
        return outcomes;
      }, demo);

    const page = await context.newPage();
    // localhost on another port: the same site, so the Strict cookie would go along; the preflight for the
    // header fails (not in CORS_ORIGINS), so the request is never sent.
    await page.goto(`${sameSiteStranger}/`);
    expect(await attempt(page)).toEqual({ '/auth/refresh': 'blocked', '/auth/logout': 'blocked' });
    // The demo's own server under 127.0.0.1: another origin and another site, not listed.
    await page.goto(`http://127.0.0.1:${server.port}/`);
    expect(await attempt(page)).toEqual({ '/auth/refresh': 'blocked', '/auth/logout': 'blocked' });
    // Listed in CORS_ORIGINS, so its requests go out, but from another site: the Strict cookie stays home.
    await page.goto(`${listedOtherSite}/`);
    expect(await attempt(page)).toEqual({ '/auth/refresh': '401', '/auth/logout': '400' });
    await page.close();

    // No request from those pages revoked or rotated anything: the session lives on in the demo tab.
    const foreign = authAnswers.filter((answer) => answer.from !== demo);
    expect(foreign.filter((answer) => answer.status < 300)).toEqual([]);
    expect(await callMe(first)).toMatch(/^200 /);
    const refreshed = await first.evaluate(() =>
      fetch('/auth/refresh', { method: 'POST', headers: { 'x-token-transport': 'cookie' } }).then(
        (r) => r.status,
      ),
    );
    expect(refreshed).toBe(200);
    expect(pageErrors).toEqual([]);

    // The user's own logout clears the cookie.
    await first.click('#logout');
    await waitForText(first, '#status', 'Signed out');
    expect(await refreshCookie()).toBeUndefined();
    await first.close();
  }, 60_000);
});
