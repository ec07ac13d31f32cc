import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  type LocalServerProcess,
  requireChromium,
  startLocalServerProcess,
} from '../support/browser.ts';
import { claimsOf, TEST_SECRET } from '../support/service.ts';

/**
 * The demo page in a real headless Chromium (Debian's `chromium`; `.ci/run` installs it), against the local
 * server started the way `npm start` starts it, with access tokens that live 3 seconds.
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
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const SCREENSHOT = join(repoRoot, 'test-output', 'demo-page.png');

let server: LocalServerProcess;
/** A blank page on another origin (another port), standing in for a user's web app. */
let appServer: Server;
let appOrigin: string;
/** The same app server under a name that is not on the allow-list: a different origin. */
let strangerOrigin: string;
let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];
/** Every `POST /auth/refresh` any tab made, with the status it got. */
const refreshStatuses: number[] = [];
/**
 * Every access token the service issued to a tab, as the test harness sees them on the wire: the page keeps
 * its tokens in memory only (the cookie transport), where no test reaches them.
 */
const issuedAccessTokens: string[] = [];

beforeAll(async () => {
  requireChromium();
  appServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>a web app on its own origin</title>');
  });
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  const { port } = appServer.address() as AddressInfo;
  appOrigin = `http://127.0.0.1:${port}`;
  strangerOrigin = `http://localhost:${port}`;
  server = await startLocalServerProcess({
    PORT: '0',
    ACCESS_TOKEN_TTL: '3',
    JWT_SECRET: TEST_SECRET,
    CORS_ORIGINS: appOrigin,
  });
  userDataDir = await mkdtemp(join(tmpdir(), 'demo-page-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 900 },
  });
  context.on('response', async (response) => {
    const path = new URL(response.url()).pathname;
    if (path === '/auth/refresh') refreshStatuses.push(response.status());
    if ((path === '/auth/refresh' || path === '/auth/login') && response.status() === 200) {
      const body = (await response.json().catch(() => ({}))) as { accessToken?: string };
      if (body.accessToken) issuedAccessTokens.push(body.accessToken);
    }
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await new Promise((resolve) => appServer?.close(resolve));
});

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // A tab that opens without a session asks for one with its cookie (resume) and is told 401: expected, and
    // Chromium logs every 4xx answer to fetch as a console error.
    const at = message.location().url;
    if (at && new URL(at).pathname === '/auth/refresh' && message.text().includes('401')) return;
    pageErrors.push(message.text());
  });
  await page.goto(server.url);
  return page;
}

const textOf = async (page: Page, selector: string) => (await page.textContent(selector)) ?? '';

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel as string)?.textContent?.includes(expected as string),
    [selector, text],
    { timeout: 15_000 },
  );
}

/** Clicks "Call /me" and returns what the page shows for that call. */
async function callMe(page: Page): Promise<string> {
  await page.evaluate(() => {
    const output = document.querySelector('#me-output');
    if (output) output.textContent = '';
  });
  await page.click('#call-me');
  await page.waitForFunction(() => (document.querySelector('#me-output')?.textContent ?? '') !== '');
  return textOf(page, '#me-output');
}

/** The newest access token the service issued (to any tab). */
const latestAccessToken = () => issuedAccessTokens.at(-1);

async function serverSaysMe(accessToken: string): Promise<number> {
  return (await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
}

/** Creates an account with the page's sign-up form; the page signs in with it at once. */
async function signUp(page: Page, username: string, password: string): Promise<void> {
  await page.fill('#register-username', username);
  await page.fill('#register-password', password);
  await page.click('#register');
  await waitForText(page, '#signed-in-as', username);
  await waitForText(page, '#status', 'Signed in');
}

/** Logs in with the page's login form. */
async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('#login');
  await waitForText(page, '#status', 'Signed in');
}

/** Chromium logs every 4xx answer to fetch as a console error: drop the ones a test asked for. */
function expectedErrorsSeen(status: number): void {
  for (let index = pageErrors.length - 1; index >= 0; index--) {
    if (pageErrors[index]?.includes(`status of ${status}`)) pageErrors.splice(index, 1);
  }
}

/** axe-core's serious and critical findings on the page as it is drawn now (WCAG 2.x A/AA and best practice). */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`,
    );
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(repoRoot, 'test-output', name), fullPage: true });

describe('the demo page in headless Chromium', () => {
  it('signs up, logs in, refreshes on its own in two tabs without a revocation, and logs out', async () => {
    const first = await openPage();
    await signUp(first, 'browser-user', 'correct horse battery staple');
    // (Before this, the page asked for a session with its cookie and was told 401: there was none yet.)
    const refreshesSinceLogin = refreshStatuses.length;
    expect(await callMe(first)).toContain('"username": "browser-user"');

    // Let the first access token expire: the page must have refreshed on its own and keep working.
    const initial = { accessToken: latestAccessToken() ?? '' };
    if (!initial.accessToken) throw new Error('no access token issued at login');
    const { exp } = claimsOf(initial.accessToken);
    while (Math.floor(Date.now() / 1000) < exp) await first.waitForTimeout(100);
    expect(await serverSaysMe(initial.accessToken)).toBe(401);
    expect(Number(await textOf(first, '#refresh-count'))).toBeGreaterThanOrEqual(1);
    expect(latestAccessToken()).not.toBe(initial.accessToken);
    expect(await callMe(first)).toMatch(/^200 .*"username": "browser-user"/s);

    // A second tab on the same session: both keep refreshing, coordinated, for several rotations.
    const second = await openPage();
    await waitForText(second, '#status', 'Signed in');
    const refreshesBefore = refreshStatuses.length;
    while (refreshStatuses.length < refreshesBefore + 4) await first.waitForTimeout(100);
    // Every refresh was a 200: no reuse revocation (401), no fault, and no 409 (contract v2). The tabs
    // coordinate through a Web Lock and share each new access token; a tab that refreshes a moment before the
    // other tab's pair reaches it sends the same cookie and is answered with that same new pair, so both
    // converge, which the two /me calls below prove.
    expect(refreshStatuses.slice(refreshesSinceLogin).filter((status) => status !== 200)).toEqual([]);
    expect(await callMe(first)).toMatch(/^200 /);
    expect(await callMe(second)).toMatch(/^200 /);

    await mkdir(join(repoRoot, 'test-output'), { recursive: true });
    await first.screenshot({ path: SCREENSHOT, fullPage: true });

    // Log out in the first tab: both tabs show it, and the server refuses the last access token.
    const last = latestAccessToken();
    await first.click('#logout');
    await waitForText(first, '#status', 'Signed out');
    await waitForText(second, '#status', 'Signed out');
    if (last) expect(await serverSaysMe(last)).toBe(401);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('lists the account’s devices (this one marked), revokes another at once and redraws, and changes the password', async () => {
    const username = 'browser-devices';
    const password = 'correct horse battery staple';
    const newPassword = 'an entirely new passphrase';
    const api = (path: string, body: unknown, userAgent = 'OtherDevice/1.0') =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify(body),
      });
    expect((await api('/auth/register', { username, password })).status).toBe(201);
    // Another device, signed in before this page.
    const other = (await (await api('/auth/login', { username, password })).json()) as {
      refreshToken: string;
    };

    // And a phone, signed in before this page too.
    const iPhone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
    expect((await api('/auth/login', { username, password }, iPhone)).status).toBe(200);

    const page = await openPage();
    await logIn(page, username, password);
    await waitForText(page, '#devices-message', '3 devices');
    const items = await page.$$eval('#devices li', (lis) => lis.map((li) => li.textContent ?? ''));
    // Newest first: this page's login, marked and named from its user agent, with no revoke button; then the
    // phone, named by the parser; then the other client, which names no browser: shown as it is.
    expect(items[0]).toMatch(/^Chrome \d+ on Linux.*This device/);
    expect(items[1]).toMatch(/^Safari 17 on iOS 17\.4 \(mobile\)/);
    expect(items[2]).toContain('Other client (OtherDevice/1.0)');
    // One time format on every line: "2 Dec, 01:23:45" style, in <time datetime> elements.
    const times = await page.$$eval('#devices time', (elements) =>
      elements.map((element) => ({
        text: element.textContent ?? '',
        datetime: element.getAttribute('datetime'),
      })),
    );
    expect(times.length).toBeGreaterThanOrEqual(3);
    const format = await page.evaluate(() =>
      new Intl.DateTimeFormat(undefined, {
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(0)),
    );
    const shape = (text: string) => text.replace(/\d/g, '0').replace(/[A-Za-z]+/g, 'M');
    for (const time of times) {
      expect(shape(time.text)).toBe(shape(format));
      expect(Number.isNaN(Date.parse(time.datetime ?? ''))).toBe(false);
    }
    expect(await page.$$eval('#devices li .revoke', (buttons) => buttons.length)).toBe(2);
    await page.locator('#devices-title').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(repoRoot, 'test-output', 'demo-devices.png'), fullPage: true });

    await page.click('#devices li:last-child .revoke');
    await waitForText(page, '#devices-message', '2 devices');
    expect(await page.$$eval('#devices li', (lis) => lis.length)).toBe(2);
    const revoked = await api('/auth/refresh', { refreshToken: other.refreshToken });
    expect(((await revoked.json()) as { error: string }).error).toBe('session_revoked');

    // Change the password: a device signed in elsewhere is signed out, this page stays signed in.
    const third = (await (await api('/auth/login', { username, password })).json()) as {
      refreshToken: string;
    };
    await page.fill('#current-password', 'not my password at all');
    await page.fill('#new-password', newPassword);
    await page.click('#change-password');
    // A wrong *current* password is said as such, not as a failed login.
    await waitForText(page, '#password-message', 'The current password is not right');
    expect(await page.inputValue('#current-password')).toBe('');
    expectedErrorsSeen(401);
    await page.fill('#current-password', password);
    await page.fill('#new-password', newPassword);
    await page.click('#change-password');
    await waitForText(page, '#password-message', 'Password changed');
    const signedOut = await api('/auth/refresh', { refreshToken: third.refreshToken });
    expect(((await signedOut.json()) as { error: string }).error).toBe('session_revoked');
    expect(await callMe(page)).toMatch(/^200 /);
    expect((await api('/auth/login', { username, password: newPassword })).status).toBe(200);

    // Signed out, nothing of the session is left on the page: no devices, no count, no typed password.
    await page.fill('#delete-password', 'typed but not sent');
    await page.click('#logout');
    await waitForText(page, '#status', 'Signed out');
    expect(await page.$$eval('#devices li', (lis) => lis.length)).toBe(0);
    expect(await textOf(page, '#devices-message')).toBe('');
    expect(await page.inputValue('#delete-password')).toBe('');
    expect(await textOf(page, '#me-output')).toBe('Not called yet.');
    expect(await textOf(page, '#signed-out-message')).toContain('You have logged out');
    expect(await page.isVisible('#devices-card')).toBe(false);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it('deletes the account with its password (a wrong one is said so), signs out, and frees the name', async () => {
    const username = 'browser-deleter';
    const password = 'correct horse battery staple';
    const page = await openPage();
    await signUp(page, username, password);
    // Creating it again is refused in words, not a code.
    await page.click('#logout');
    await waitForText(page, '#status', 'Signed out');
    await page.fill('#register-username', username);
    await page.fill('#register-password', password);
    await page.click('#register');
    await waitForText(page, '#account-message', 'That username is taken; choose another one.');
    expectedErrorsSeen(409);
    await page.fill('#password', 'not the password');
    await page.fill('#username', username);
    await page.click('#login');
    await waitForText(page, '#account-message', 'The username or password is incorrect.');
    expectedErrorsSeen(401);
    await logIn(page, username, password);

    await page.fill('#delete-password', 'not the password');
    await page.click('#delete-account');
    await waitForText(page, '#delete-message', 'The password is not right; the account was not deleted.');
    expectedErrorsSeen(401);
    expect(await textOf(page, '#status')).toBe('Signed in');

    await page.fill('#delete-password', password);
    await page.click('#delete-account');
    await waitForText(page, '#status', 'Signed out');
    await waitForText(page, '#signed-out-message', 'deleted');
    // Nothing left to resume: the cookie's session is gone, and the first refresh with it clears it.
    const resumed = await page.evaluate(() =>
      fetch('/auth/refresh', { method: 'POST', headers: { 'x-token-transport': 'cookie' } }).then(
        (r) => r.status,
      ),
    );
    expect(resumed).toBe(401);
    expectedErrorsSeen(401);
    expect((await context.cookies(server.url)).filter((cookie) => cookie.name.includes('refresh'))).toEqual(
      [],
    );
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    expect(login.status).toBe(401);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('has labelled controls, autocomplete hints for password managers, and no serious axe finding, at desktop and phone width', async () => {
    const page = await openPage();
    const autocompleteOf = (selector: string) => page.getAttribute(selector, 'autocomplete');
    expect(await autocompleteOf('#username')).toBe('username');
    expect(await autocompleteOf('#password')).toBe('current-password');
    expect(await autocompleteOf('#register-username')).toBe('username');
    expect(await autocompleteOf('#register-password')).toBe('new-password');
    expect(await autocompleteOf('#current-password')).toBe('current-password');
    expect(await autocompleteOf('#new-password')).toBe('new-password');
    expect(await autocompleteOf('#delete-password')).toBe('current-password');
    expect(await page.$$eval('[autocomplete="off"]', (elements) => elements.length)).toBe(0);

    const findings: Record<string, string[]> = {};
    for (const [width, name] of [
      [1280, 'desktop'],
      [390, 'phone'],
    ] as const) {
      await page.setViewportSize({ width, height: 900 });
      await waitForText(page, '#status', 'Signed out');
      findings[`${name} signed out`] = await seriousViolations(page);
      await shot(page, `demo-${name}-signed-out.png`);
    }
    await signUp(page, 'browser-a11y', 'correct horse battery staple');
    expect(await callMe(page)).toMatch(/^200 /);
    await waitForText(page, '#devices-message', '1 device');
    for (const [width, name] of [
      [1280, 'desktop'],
      [390, 'phone'],
    ] as const) {
      await page.setViewportSize({ width, height: 900 });
      findings[`${name} signed in`] = await seriousViolations(page);
      await shot(page, `demo-${name}-signed-in.png`);
      // Nothing wider than the screen: no sideways scrolling on a phone.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
    }
    expect(findings).toEqual({
      'desktop signed out': [],
      'phone signed out': [],
      'desktop signed in': [],
      'phone signed in': [],
    });
    await page.click('#logout');
    await waitForText(page, '#status', 'Signed out');
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 90_000);

  it('keeps outlined buttons readable on hover, drops "Signed in as" at logout, and wraps /me between words', async () => {
    const page = await openPage();
    // Narrow, as on a phone, where the /me box has to wrap.
    await page.setViewportSize({ width: 400, height: 1000 });
    await mkdir(join(repoRoot, 'test-output'), { recursive: true });

    /** WCAG 2 contrast ratio of the element's text against its own background, as drawn now. */
    const contrastOf = (selector: string) =>
      page.$eval(selector, (element) => {
        const channels = (color: string) => (color.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
        const luminance = (color: string) => {
          const [r = 0, g = 0, b = 0] = channels(color).map((value) => {
            const c = value / 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const style = getComputedStyle(element);
        const [light, dark] = [luminance(style.color), luminance(style.backgroundColor)].sort(
          (a, b) => b - a,
        );
        return ((light as number) + 0.05) / ((dark as number) + 0.05);
      });
    const hovered = async (selector: string, shot: string) => {
      await page.hover(selector);
      await page.screenshot({ path: join(repoRoot, 'test-output', shot), fullPage: true });
      return contrastOf(selector);
    };

    // Signed out: the secondary "Sign up" button, hovered.
    expect(await hovered('#register', 'demo-page-hover-secondary.png')).toBeGreaterThanOrEqual(4.5);

    await signUp(page, 'visual-user', 'correct horse battery staple');

    // Signed in: the secondary "Log out" and the danger "Log out everywhere", hovered.
    expect(await hovered('#logout', 'demo-page-hover-logout.png')).toBeGreaterThanOrEqual(4.5);
    expect(await hovered('#logout-all', 'demo-page-hover-danger.png')).toBeGreaterThanOrEqual(4.5);

    // The /me answer wraps between words: no key of it is split over two lines.
    expect(await callMe(page)).toMatch(/^200 /);
    await page.screenshot({ path: join(repoRoot, 'test-output', 'demo-page-me-narrow.png'), fullPage: true });
    const splitWords = await page.$eval('#me-output', (output) => {
      const text = output.firstChild as Text;
      const split: string[] = [];
      for (const word of ['"userId":', '"username":', '"sessionId":']) {
        const start = text.data.indexOf(word);
        const range = document.createRange();
        range.setStart(text, start);
        range.setEnd(text, start + word.length);
        const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
        if (start < 0 || lines.size !== 1) split.push(word);
      }
      return split;
    });
    expect(splitWords).toEqual([]);

    await page.click('#logout');
    await waitForText(page, '#status', 'Signed out');
    expect(await textOf(page, '#signed-in-as')).toBe('');
    expect(await page.isVisible('#signed-in-as')).toBe(false);
    await page.screenshot({
      path: join(repoRoot, 'test-output', 'demo-page-after-logout.png'),
      fullPage: true,
    });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('lets a web app on an allowed origin call the API across origins, and blocks any other origin', async () => {
    const page = await context.newPage();
    const tryTheApi = (api: string) =>
      page.evaluate(async (apiUrl) => {
        try {
          // Both requests need a preflight: a JSON body, and an Authorization header.
          const login = await fetch(`${apiUrl}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'nobody-at-all', password: 'wrong password here' }),
          });
          const me = await fetch(`${apiUrl}/me`, { headers: { authorization: 'Bearer not-a-token' } });
          return {
            login: login.status,
            error: ((await login.json()) as { error: string }).error,
            me: me.status,
            challenge: me.headers.get('www-authenticate'),
          };
        } catch {
          return 'blocked by the browser';
        }
      }, api);

    await page.goto(`${appOrigin}/`);
    expect(await tryTheApi(server.url)).toEqual({
      login: 401,
      error: 'invalid_credentials',
      me: 401,
      challenge: 'Bearer',
    });
    await page.goto(`${strangerOrigin}/`);
    expect(await tryTheApi(server.url)).toBe('blocked by the browser');
    await page.close();
  }, 30_000);
});
