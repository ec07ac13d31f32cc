import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import {
  CHROMIUM,
  type LocalServerProcess,
  requireChromium,
  startLocalServerProcess,
} from '../support/browser.ts';
import { TEST_SECRET } from '../support/service.ts';

/**
 * The demo page's second factor in headless Chromium, against `npm start`'s entry point: enrolment through the
 * QR code card, a login completed with a code computed from the secret the page shows, and step-up on
 * /me/sensitive.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'correct horse battery staple';

let server: LocalServerProcess;
let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  requireChromium();
  server = await startLocalServerProcess({ PORT: '0', JWT_SECRET: TEST_SECRET });
  userDataDir = await mkdtemp(join(tmpdir(), 'second-factor-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic'],
    viewport: { width: 1000, height: 1400 },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(server.url);
  return page;
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel as string)?.textContent?.includes(expected as string),
    [selector, text],
    { timeout: 15_000 },
  );
}

async function signUpAndLogIn(page: Page, username: string): Promise<void> {
  // Creating an account signs in with it.
  await page.fill('#register-username', username);
  await page.fill('#register-password', PASSWORD);
  await page.click('#register');
  await waitForText(page, '#status', 'Signed in');
}

describe('the demo page with a second factor', () => {
  it('enrols TOTP from the QR code card, shows 10 recovery codes once, and logs in with a code computed from the secret', async () => {
    const page = await openPage();
    await signUpAndLogIn(page, 'browser-mfa');

    // A password-only session is refused at /me/sensitive, and the page says a step-up is needed.
    await page.click('#call-sensitive');
    await waitForText(page, '#step-up-message', 'Step-up required for /me/sensitive');

    await page.fill('#mfa-password', PASSWORD);
    await page.click('#mfa-enrol');
    await page.waitForSelector('#mfa-enrolment:not([hidden])');
    const qr = await page.getAttribute('#mfa-qr', 'src');
    expect(qr).toMatch(/^data:image\/png;base64,/);
    const secret = (await page.textContent('#mfa-secret')) ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const step = totpStepAt(Date.now());
    await page.fill('#mfa-confirm-code', totpCodeAt(secret, step));
    await page.click('#mfa-confirm');
    await page.waitForSelector('#mfa-recovery:not([hidden])');
    expect(await page.locator('#mfa-recovery-codes li').count()).toBe(10);
    expect(await page.textContent('#mfa-secret')).toBe('');
    await mkdir(join(repoRoot, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(repoRoot, 'test-output', 'second-factor.png'), fullPage: true });

    await page.click('#logout');
    await waitForText(page, '#status', 'Signed out');
    // Nothing of the enrolment is left on the page after signing out.
    expect(await page.locator('#mfa-recovery-codes li').count()).toBe(0);
    await page.fill('#username', 'browser-mfa');
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await page.waitForSelector('#mfa-login-form:not([hidden])');
    await waitForText(page, '#status', 'Signed out');
    // The confirmation used its step: the next one is within the window either side.
    await page.fill('#mfa-code', totpCodeAt(secret, step + 1));
    await page.click('#mfa-submit');
    await waitForText(page, '#status', 'Signed in');
    // Whatever the page keeps its tokens in: /me/sensitive answers, and says how the user signed in.
    await page.click('#call-sensitive');
    await waitForText(page, '#me-output', '200 from /me/sensitive');
    const shown = (await page.textContent('#me-output')) ?? '';
    const me = JSON.parse(shown.slice(shown.indexOf('{')));
    expect(me.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
