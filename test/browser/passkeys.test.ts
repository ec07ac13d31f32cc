import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, type CDPSession, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  type LocalServerProcess,
  requireChromium,
  startLocalServerProcess,
} from '../support/browser.ts';
import { TEST_SECRET } from '../support/service.ts';

/**
 * Passkeys on the demo page in a real headless Chromium, with Chromium's virtual authenticator (Chrome
 * DevTools Protocol, `WebAuthn` domain: a CTAP2 platform authenticator with resident keys and user
 * verification) standing in for a phone or a laptop's fingerprint reader. The page is served at
 * `http://localhost:<port>`, as `npm start` prints it: WebAuthn refuses IP addresses.
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
let context: BrowserContext;
let userDataDir: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  requireChromium();
  server = await startLocalServerProcess({ PORT: '0', JWT_SECRET: TEST_SECRET });
  userDataDir = await mkdtemp(join(tmpdir(), 'passkeys-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 1400 },
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
});

/** A page of the demo with a virtual platform authenticator of its own (resident keys, user verification). */
async function pageWithAuthenticator(): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.goto(`${server.pageUrl}/`);
  return { page, cdp, authenticatorId };
}

async function waitForText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([sel, expected]) => document.querySelector(sel as string)?.textContent?.includes(expected as string),
    [selector, text],
    { timeout: 15_000 },
  );
}

const signedIn = (page: Page) => waitForText(page, '#status', 'Signed in');
const signedOut = (page: Page) => waitForText(page, '#status', 'Signed out');
/** What the page's "Call /me" shows: the status and the body of `GET /me`, called with the page's session. */
async function meOf(page: Page): Promise<{ status: number; body: Record<string, unknown> }> {
  await page.evaluate(() => {
    const output = document.querySelector('#me-output');
    if (output) output.textContent = '';
  });
  await page.click('#call-me');
  await page.waitForFunction(
    () => (document.querySelector('#me-output')?.textContent ?? '') !== '',
    undefined,
    {
      timeout: 15_000,
    },
  );
  const text = (await page.textContent('#me-output')) ?? '';
  const [first = '', ...rest] = text.split('\n');
  return { status: Number(first.split(' ')[0]), body: JSON.parse(rest.join('\n') || '{}') };
}

async function signUpAndLogIn(page: Page, username: string): Promise<void> {
  // The page's sign-up form signs in with the new account at once.
  await page.fill('#register-username', username);
  await page.fill('#register-password', PASSWORD);
  await page.click('#register');
  await waitForText(page, '#signed-in-as', username);
  await signedIn(page);
}

async function addPasskey(page: Page, name: string): Promise<void> {
  await page.fill('#passkey-password', PASSWORD);
  await page.fill('#passkey-name', name);
  await page.click('#add-passkey');
  await waitForText(page, '#passkeys-message', `Added the passkey ${name}`);
}

async function logOut(page: Page): Promise<void> {
  await page.click('#logout');
  await signedOut(page);
}

describe('passkeys on the demo page, with a virtual authenticator', () => {
  it('registers a passkey, signs out, signs in with it (no password), and deletes it', async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    await signUpAndLogIn(page, 'passkey-alice');
    const { body: signedUpAs } = await meOf(page);
    const userId = signedUpAs.userId;
    await addPasskey(page, 'virtual laptop');
    await waitForText(page, '#passkeys', 'virtual laptop');
    // A discoverable credential on the authenticator, bound to the user by its user handle (the user id).
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]?.isResidentCredential).toBe(true);
    expect(Buffer.from(credentials[0]?.userHandle ?? '', 'base64').toString()).toBe(userId);
    expect(credentials[0]?.rpId).toBe('localhost');

    await logOut(page);
    await page.click('#passkey-login');
    await signedIn(page);
    await waitForText(page, '#passkeys-message', 'Signed in with a passkey');
    // The same user, signed in by the passkey alone: /me through the page's new session.
    const me = await meOf(page);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ userId, username: 'passkey-alice' });
    await waitForText(page, '#passkeys', 'last used');

    await page.click('#passkeys .delete-passkey');
    await page.waitForFunction(() => document.querySelectorAll('#passkeys li').length === 0, undefined, {
      timeout: 15_000,
    });
    await logOut(page);
    // The credential is still on the authenticator, but the service no longer knows it.
    await page.click('#passkey-login');
    await waitForText(page, '#passkeys-message', 'was not accepted');
    expect(await page.textContent('#status')).toContain('Signed out');
    // No script error on the page (Chromium's console lines for the expected 401s are not page errors).
    expect(pageErrors).toEqual([]);
  });

  it('asks a password login for the passkey as the second factor, and signs in with it', async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    await signUpAndLogIn(page, 'passkey-carol');
    await addPasskey(page, 'virtual key');
    await logOut(page);

    await page.fill('#username', 'passkey-carol');
    await page.fill('#password', PASSWORD);
    await page.click('#login');
    await waitForText(page, '#mfa-methods', 'a passkey');
    // Only a passkey is enrolled: no code field, the passkey button.
    expect(await page.isVisible('#mfa-code')).toBe(false);
    expect(await page.textContent('#status')).toContain('Signed out');

    // A bogus signature is refused and the step stays open; the honest authenticator then signs in.
    await cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId, isBogusSignature: true });
    await page.click('#mfa-passkey');
    await waitForText(page, '#mfa-login-message', 'passkey');
    expect(await page.textContent('#status')).toContain('Signed out');
    await cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId, isBogusSignature: false });
    await page.click('#mfa-passkey');
    await signedIn(page);
    const me = await meOf(page);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: 'passkey-carol', amr: ['pwd', 'hwk', 'user', 'mfa'] });
    expect(pageErrors).toEqual([]);
    // The pages share the browser's session cookie: the next test starts signed out.
    await logOut(page);
  });

  it('refuses an assertion with a bogus signature, and one without user verification', async () => {
    const { page, cdp, authenticatorId } = await pageWithAuthenticator();
    await signUpAndLogIn(page, 'passkey-bob');
    await addPasskey(page, 'virtual phone');
    await logOut(page);

    await cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId, isBogusSignature: true });
    await page.click('#passkey-login');
    await waitForText(page, '#passkeys-message', 'was not accepted');
    expect(await page.textContent('#status')).toContain('Signed out');

    await cdp.send('WebAuthn.setResponseOverrideBits', {
      authenticatorId,
      isBogusSignature: false,
      isBadUV: true,
    });
    await page.evaluate(() => {
      const message = document.querySelector('#passkeys-message');
      if (message) message.textContent = '';
    });
    await page.click('#passkey-login');
    await waitForText(page, '#passkeys-message', 'was not accepted');
    expect(await page.textContent('#status')).toContain('Signed out');

    // The same authenticator, honest again, still signs in: the refusals changed nothing stored.
    await cdp.send('WebAuthn.setResponseOverrideBits', { authenticatorId, isBadUV: false });
    await page.click('#passkey-login');
    await signedIn(page);
  });
});
