import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  type LocalServerProcess,
  requireChromium,
  startLocalServerProcess,
} from '../support/browser.ts';
import { TEST_SECRET } from '../support/service.ts';

/**
 * Account recovery by e-mail as a person does it, in headless Chromium against `npm start`'s entry point: the
 * demo page's "Forgot password?", the mail read from the local mail box page (`/mailbox`), the mailed link's
 * page, a new password, every old session dead, and a login with the new one; the verification link likewise.
 * Two browser contexts: the user's signed-in laptop, and the browser where they forgot their password.
 */
const OLD_PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';
const DEADLINE = 15_000;

let server: LocalServerProcess;
let browser: Browser;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  requireChromium();
  // In memory: the mail sink is then a directory of this run's own, which /mailbox lists.
  server = await startLocalServerProcess({ PORT: '0', JWT_SECRET: TEST_SECRET, MAIL_ECHO: 'false' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic'],
  });
}, 60_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await server?.stop();
});

/** A browser of its own (its own cookies): a device of the user's. */
async function device(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1400 } });
  contexts.push(context);
  return context;
}

async function openPage(context: BrowserContext, url = server.url): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // A script or style the page's policy blocks is no exception, only a console message: caught here too.
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
  });
  await page.goto(url);
  return page;
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel as string)?.textContent?.includes(expected as string),
    [selector, text],
    { timeout: DEADLINE },
  );
}

/** Creates an account with an address through the demo page's sign-up form (the page signs in with it). */
async function signUpWithAddress(page: Page, username: string, email: string): Promise<void> {
  await page.fill('#register-username', username);
  await page.fill('#register-password', OLD_PASSWORD);
  await page.fill('#register-email', email);
  await page.click('#register');
  await waitForText(page, '#status', 'Signed in');
  await waitForText(page, '#email-address', email);
}

/**
 * The newest mail to `to` with `subject` (its text and the href of its link), as a person finds it: the mail box
 * page, reloaded until the mail is there (the mail goes out after the answer), within a deadline.
 */
async function mailFromMailbox(
  context: BrowserContext,
  to: string,
  subject: string,
): Promise<{ text: string; href: string | null }> {
  const mailbox = await openPage(context, `${server.url}/mailbox`);
  const deadline = Date.now() + DEADLINE;
  for (;;) {
    const found = await mailbox.evaluate(
      ([recipient, title]) => {
        for (const mail of document.querySelectorAll('li.mail')) {
          if (mail.querySelector('h2')?.textContent !== title) continue;
          if (mail.querySelector('strong')?.textContent !== recipient) continue;
          return {
            text: mail.querySelector('pre')?.textContent ?? '',
            href: mail.querySelector('pre a')?.getAttribute('href') ?? null,
          };
        }
        return null;
      },
      [to, subject],
    );
    if (found) {
      await mailbox.close();
      return found;
    }
    if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${to} in the mail box`);
    await mailbox.waitForTimeout(100);
    await mailbox.reload();
  }
}

/** The link of the newest mail to `to` with `subject`, from the mail box page. */
async function linkFromMailbox(context: BrowserContext, to: string, subject: string): Promise<string> {
  const { href } = await mailFromMailbox(context, to, subject);
  if (!href) throw new Error(`the mail "${subject}" to ${to} has no link`);
  return href;
}

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

/** A session of the user's made over HTTP (a phone, say): its tokens. */
async function loginOverHttp(username: string, password: string) {
  const response = await post('/auth/login', { username, password });
  expect(response.status).toBe(200);
  return (await response.json()) as { accessToken: string; refreshToken: string };
}

const meStatus = async (accessToken: string) =>
  (await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

/**
 * API Gateway's stage in front of the local server: `/prod/<path>` is passed on as `/<path>`, anything else is
 * API Gateway's 403. Every request it passes on is recorded as `METHOD /prod/path`.
 */
async function stagePrefix(
  stage: string,
): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const proxy: Server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    if (!path.startsWith(`/${stage}/`)) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"message":"Missing Authentication Token"}');
      return;
    }
    seen.push(`${req.method} ${path.split(/[?#]/)[0]}`);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(
        (entry): entry is [string, string] =>
          typeof entry[1] === 'string' && !['host', 'connection', 'content-length'].includes(entry[0]),
      ),
    );
    const answer = await fetch(`${server.url}${path.slice(stage.length + 1)}`, {
      method: req.method ?? 'GET',
      headers,
      ...(chunks.length > 0 && { body: Buffer.concat(chunks) }),
    });
    const body = Buffer.from(await answer.arrayBuffer());
    const kept = [...answer.headers].filter(
      ([name]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name),
    );
    res.writeHead(answer.status, Object.fromEntries(kept));
    res.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => proxy.close(() => resolve())),
  };
}

describe('account recovery by e-mail in headless Chromium', () => {
  it('forgot password on the page → the mail in /mailbox → the link’s page → a new password: every old session ends, the new password signs in', async () => {
    const username = 'browser-forgetful';
    const email = 'forgetful@example.com';
    const laptop = await openPage(await device());
    await signUpWithAddress(laptop, username, email);
    await waitForText(laptop, '#email-state', 'Not verified');
    const phone = await loginOverHttp(username, OLD_PASSWORD);

    // Another browser, signed out: "Forgot password?".
    const elsewhere = await device();
    const page = await openPage(elsewhere);
    await waitForText(page, '#status', 'Signed out');
    await page.click('#forgot-link');
    await page.fill('#forgot-email', email);
    await page.click('#forgot-submit');
    await waitForText(page, '#forgot-message', 'on its way');

    const link = await linkFromMailbox(elsewhere, email, 'Reset your password');
    expect(link).toMatch(/\/reset-password#token=[A-Za-z0-9_-]{43}$/);

    // Opening the link shows the form and changes nothing (a mail scanner may fetch it any number of times).
    const linkPage = await openPage(elsewhere, link);
    await linkPage.waitForSelector('#reset-form', { state: 'visible', timeout: DEADLINE });
    expect(await linkPage.textContent('#reset-message')).toBe('');
    await linkPage.reload();
    await linkPage.waitForSelector('#reset-form', { state: 'visible', timeout: DEADLINE });
    expect(await meStatus(phone.accessToken)).toBe(200);
    const stillOld = await loginOverHttp(username, OLD_PASSWORD);

    // Two different passwords are caught on the page, before anything is sent.
    await linkPage.fill('#reset-new-password', NEW_PASSWORD);
    await linkPage.fill('#reset-confirm-password', `${NEW_PASSWORD}!`);
    await linkPage.click('#reset');
    await waitForText(linkPage, '#reset-message', 'The two passwords differ');

    await linkPage.fill('#reset-confirm-password', NEW_PASSWORD);
    await linkPage.click('#reset');
    await waitForText(linkPage, '#reset-message', 'Your password is changed');
    expect(await linkPage.isVisible('#reset-form')).toBe(false);

    // Every session that existed is dead: the authorizer and refresh refuse them, the laptop's page signs out.
    expect(await meStatus(phone.accessToken)).toBe(401);
    expect(await meStatus(stillOld.accessToken)).toBe(401);
    const refreshed = await post('/auth/refresh', { refreshToken: phone.refreshToken });
    expect(refreshed.status).toBe(401);
    expect(((await refreshed.json()) as { error: string }).error).toBe('session_revoked');
    await laptop.click('#call-me');
    await waitForText(laptop, '#status', 'Signed out');

    // The link is spent: submitting it again is refused.
    await linkPage.reload();
    await linkPage.fill('#reset-new-password', 'yet another passphrase');
    await linkPage.fill('#reset-confirm-password', 'yet another passphrase');
    await linkPage.click('#reset');
    await waitForText(linkPage, '#reset-message', 'link');

    // The old password no longer signs in; the new one does, and the reset verified the address.
    await page.fill('#username', username);
    await page.fill('#password', OLD_PASSWORD);
    await page.click('#login');
    await waitForText(page, '#account-message', 'incorrect');
    await page.fill('#password', NEW_PASSWORD);
    await page.click('#login');
    await waitForText(page, '#status', 'Signed in');
    await waitForText(page, '#email-state', 'Verified');

    // And the notice of the reset reached the address, with no link in it.
    expect(await mailFromMailbox(elsewhere, email, 'Your password was reset')).toMatchObject({ href: null });
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('the verification mail’s link, opened from the mail box, verifies the address the page then shows', async () => {
    const username = 'browser-verifier';
    const email = 'verifier@example.com';
    const context = await device();
    const page = await openPage(context);
    await signUpWithAddress(page, username, email);
    await waitForText(page, '#email-state', 'Not verified');
    expect(await page.isVisible('#email-resend')).toBe(true);

    const link = await linkFromMailbox(context, email, 'Verify your e-mail address');
    const linkPage = await openPage(context, link);
    await linkPage.waitForSelector('#verify-form', { state: 'visible', timeout: DEADLINE });
    // Opening it verified nothing.
    await page.reload();
    await waitForText(page, '#email-state', 'Not verified');

    await linkPage.click('#verify');
    await waitForText(linkPage, '#verify-message', 'verified');
    await page.reload();
    await waitForText(page, '#email-state', 'Verified');
    expect(await page.isVisible('#email-resend')).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('the link’s page works under an API Gateway stage prefix, as the stack serves it: it posts to the stage’s API', async () => {
    const username = 'browser-staged';
    const email = 'staged@example.com';
    const registered = await post('/auth/register', { username, password: OLD_PASSWORD, email });
    expect(registered.status).toBe(201);
    const context = await device();
    const link = new URL(await linkFromMailbox(context, email, 'Verify your e-mail address'));
    const stage = await stagePrefix('prod');
    try {
      const linkPage = await openPage(context, `${stage.url}/prod${link.pathname}${link.hash}`);
      await linkPage.waitForSelector('#verify-form', { state: 'visible', timeout: DEADLINE });
      await linkPage.click('#verify');
      await waitForText(linkPage, '#verify-message', 'verified');
      // One answer for the page (script and style inline) and the form's POST, both under the stage.
      expect(stage.seen).toEqual(['GET /prod/verify-email', 'POST /prod/auth/email/verify']);
    } finally {
      await stage.close();
    }
    const { accessToken } = await loginOverHttp(username, OLD_PASSWORD);
    const account = await fetch(`${server.url}/auth/account`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(await account.json()).toMatchObject({ email, emailVerified: true });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
