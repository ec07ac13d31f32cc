import {
  AuthClient,
  AuthError,
  linkToken,
  SignedOutError,
  type SignOutReason,
} from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt } from '../../lib/mfa/totp.ts';
import { mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, type HttpTestService, startHttpTestService } from '../support/service.ts';
import { enrolTotpThrough, otherThan } from '../support/totp.ts';

let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

let users = 0;
const freshName = () => `client-mail-${++users}-${Math.random().toString(36).slice(2, 8)}`;
const NEW_PASSWORD = 'a brand new passphrase';
const VERIFY = /^Verify your e-mail address$/;
const RESET = /^Reset your password$/;

/** A client of its own, recording why it signed out. */
function newClient() {
  const signedOut: SignOutReason[] = [];
  const client = new AuthClient({ baseUrl: service.url });
  client.on('signedOut', ({ reason }) => signedOut.push(reason));
  return { client, signedOut };
}

const mailbox = (to: string) => mailsTo(service.server.mailDir, to);

/** The token of the newest mail to `to` whose subject matches. */
async function newestToken(to: string, subject: RegExp): Promise<string> {
  const mail = (await mailbox(to)).filter((m) => subject.test(m.subject)).at(-1);
  expect(mail?.link).toBeTypeOf('string');
  // The page's own way of reading the link: the SDK's linkToken on the link as mailed.
  const token = linkToken(mail?.link as string);
  expect(token).toBe(mail?.token);
  return token as string;
}

/** Registers a user with an address through the SDK and signs it in; its name, address and client. */
async function signedInUser() {
  const username = freshName();
  const email = `${username}@example.com`;
  const device = newClient();
  const registered = await device.client.register(username, DEFAULT_PASSWORD, ` ${email.toUpperCase()} `);
  expect(registered).toMatchObject({ username, email });
  await device.client.login(username, DEFAULT_PASSWORD);
  return { username, email, ...device };
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('the call should have failed'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(AuthError);
      return error as AuthError;
    },
  );

describe('the client’s account recovery by e-mail', () => {
  it('register with an address, getAccount shows it unverified; verifyEmail with the mailed link verifies it, once', async () => {
    const { client, email } = await signedInUser();
    expect(await client.getAccount()).toMatchObject({ email, emailVerified: false });
    const token = await newestToken(email, VERIFY);

    // Not signed in: a link needs no session (here a second client, as on the page the link opens).
    await newClient().client.verifyEmail(token);
    expect(await client.getAccount()).toMatchObject({ email, emailVerified: true });
    expect((await failure(newClient().client.verifyEmail(token))).code).toBe('invalid_link');
  });

  it('register without an address answers email null, and getAccount says so', async () => {
    const { client } = newClient();
    const username = freshName();
    expect(await client.register(username, DEFAULT_PASSWORD)).toMatchObject({ username, email: null });
    await client.login(username, DEFAULT_PASSWORD);
    const account = await client.getAccount();
    expect(account).toMatchObject({ username, email: null, emailVerified: false });
    expect(account.mfa).toEqual({
      totp: expect.any(Boolean),
      passkeys: expect.any(Number),
      recoveryCodesLeft: expect.any(Number),
    });
  });

  it('forgotPassword resolves alike for an account’s address and an unknown one; only the account gets a mail', async () => {
    const { email } = await signedInUser();
    const unknown = `${freshName()}@example.com`;
    const { client } = newClient();
    await client.forgotPassword(email);
    await client.forgotPassword(unknown);
    expect((await mailbox(email)).filter((m) => RESET.test(m.subject))).toHaveLength(1);
    expect(await mailbox(unknown)).toEqual([]);
    expect((await failure(client.forgotPassword('not an address'))).code).toBe('invalid_request');
  });

  it('resetPassword with the mailed link: the user’s signed-in client is signed out, the new password works, the link is spent', async () => {
    const { username, email, client: signedIn, signedOut } = await signedInUser();
    const { client } = newClient();
    await client.forgotPassword(email);
    const token = await newestToken(email, RESET);

    // A weak password leaves the link usable.
    const weak = await failure(client.resetPassword(token, 'password'));
    expect(weak.code).toBe('weak_password');
    await client.resetPassword(token, NEW_PASSWORD);

    await expect(signedIn.fetch('/me')).rejects.toBeInstanceOf(SignedOutError);
    expect(signedOut).toEqual(['session_revoked']);
    expect((await failure(client.login(username, DEFAULT_PASSWORD))).code).toBe('invalid_credentials');
    expect(await client.login(username, NEW_PASSWORD)).toEqual({ status: 'signed_in' });
    expect(await client.getAccount()).toMatchObject({ email, emailVerified: true });
    expect((await failure(client.resetPassword(token, 'yet another passphrase'))).code).toBe('invalid_link');
  });

  it('resetPassword for an account with TOTP: no proof is mfa_required and a wrong code invalid_mfa_code, the link still usable; a recovery code completes it', async () => {
    const { username, email, client: signedIn } = await signedInUser();
    const { secret, step, recoveryCodes } = await enrolTotpThrough(signedIn, DEFAULT_PASSWORD);
    const { client } = newClient();
    await client.forgotPassword(email);
    const token = await newestToken(email, RESET);

    expect((await failure(client.resetPassword(token, NEW_PASSWORD))).code).toBe('mfa_required');
    const wrong = await failure(
      client.resetPassword(token, NEW_PASSWORD, { code: otherThan(totpCodeAt(secret, step + 1)) }),
    );
    expect(wrong.code).toBe('invalid_mfa_code');
    await client.resetPassword(token, NEW_PASSWORD, { recoveryCode: recoveryCodes[0] as string });

    expect((await failure(client.login(username, DEFAULT_PASSWORD))).code).toBe('invalid_credentials');
    // The second factor stays on after a reset: the new password opens its step.
    expect(await client.login(username, NEW_PASSWORD)).toMatchObject({ status: 'mfa_required' });
  });

  it('changeEmail: a wrong password is invalid_credentials and keeps the session; the right one sets the address unverified', async () => {
    const { client, email, signedOut } = await signedInUser();
    const next = `${freshName()}@example.org`;
    expect((await failure(client.changeEmail(next, 'not the password'))).code).toBe('invalid_credentials');
    expect(signedOut).toEqual([]);
    expect(await client.getAccount()).toMatchObject({ email });

    await client.changeEmail(next, DEFAULT_PASSWORD);
    expect(await client.getAccount()).toMatchObject({ email: next, emailVerified: false });
    expect((await mailbox(next)).some((m) => VERIFY.test(m.subject))).toBe(true);
    expect((await mailbox(email)).some((m) => /^Your e-mail address was changed$/.test(m.subject))).toBe(
      true,
    );

    const other = await signedInUser();
    expect((await failure(other.client.changeEmail(next, DEFAULT_PASSWORD))).code).toBe('email_taken');
  });

  it('resendVerification mails the link again, and beyond 3 an hour is too_many_attempts with retryAfter', async () => {
    const { client, email } = await signedInUser();
    const verifications = async () => (await mailbox(email)).filter((m) => VERIFY.test(m.subject)).length;
    expect(await verifications()).toBe(1);
    for (let i = 0; i < 3; i += 1) await client.resendVerification();
    expect(await verifications()).toBe(4);
    const limited = await failure(client.resendVerification());
    expect(limited.code).toBe('too_many_attempts');
    expect(limited.retryAfter).toBeGreaterThan(0);
    expect(await verifications()).toBe(4);
  });

  it('the signed-in methods throw SignedOutError without a session, and send nothing', async () => {
    const sent: string[] = [];
    const client = new AuthClient({
      baseUrl: service.url,
      fetch: (input, init) => {
        sent.push(String(input));
        return fetch(input, init);
      },
    });
    await expect(client.getAccount()).rejects.toBeInstanceOf(SignedOutError);
    await expect(client.changeEmail('a@example.com', DEFAULT_PASSWORD)).rejects.toBeInstanceOf(
      SignedOutError,
    );
    await expect(client.resendVerification()).rejects.toBeInstanceOf(SignedOutError);
    expect(sent).toEqual([]);
  });

  it('linkToken reads the token of a link’s fragment, else of its query; null without one', () => {
    expect(linkToken('https://app.example.com/reset-password#token=abc_-1')).toBe('abc_-1');
    expect(linkToken(new URL('https://app.example.com/verify-email?token=q1'))).toBe('q1');
    expect(linkToken('https://app.example.com/reset-password?token=q#token=f')).toBe('f');
    expect(linkToken('https://app.example.com/reset-password')).toBeNull();
  });
});
