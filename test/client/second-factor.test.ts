import { AuthClient, AuthError } from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt } from '../../lib/mfa/totp.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  type HttpTestService,
  startHttpTestService,
} from '../support/service.ts';
import { enrolTotpThrough } from '../support/totp.ts';

let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

let users = 0;
const freshName = () => `client-mfa-${++users}-${Math.random().toString(36).slice(2, 8)}`;

/** A user with TOTP on (enrolled through the client's own fetch), signed out: its name, secret and codes. */
async function enrolledUser() {
  const username = freshName();
  const client = new AuthClient({ baseUrl: service.url });
  await client.register(username, DEFAULT_PASSWORD);
  expect(await client.login(username, DEFAULT_PASSWORD)).toEqual({ status: 'signed_in' });
  const { secret, step, recoveryCodes } = await enrolTotpThrough(client, DEFAULT_PASSWORD);
  await client.logout();
  return { username, secret, step, recoveryCodes };
}

describe('the client with a second factor', () => {
  it('login() reports the second-factor step, and completeMfa() with a code signs in with an MFA session', async () => {
    const { username, secret, step } = await enrolledUser();
    const client = new AuthClient({ baseUrl: service.url });
    const signedIn: unknown[] = [];
    client.on('signedIn', (event) => signedIn.push(event));
    expect(await client.login(username, DEFAULT_PASSWORD)).toEqual({
      status: 'mfa_required',
      methods: ['totp', 'recovery_code'],
    });
    expect(client.pendingSecondFactors).toEqual(['totp', 'recovery_code']);
    expect(await client.tokens()).toBeNull();
    expect(signedIn).toHaveLength(0);
    // The confirmation's step is used: the next one is within the window.
    await client.completeMfa({ code: totpCodeAt(secret, step + 1) });
    expect(signedIn).toHaveLength(1);
    expect(client.pendingSecondFactors).toEqual([]);
    const tokens = await client.tokens();
    expect(claimsOf(tokens?.accessToken ?? '').amr).toEqual(['pwd', 'otp', 'mfa']);
    expect((await client.fetch('/me/sensitive')).status).toBe(200);
  });

  it('a wrong code is invalid_mfa_code and the login stays pending; a recovery code then completes it', async () => {
    const { username, recoveryCodes } = await enrolledUser();
    const client = new AuthClient({ baseUrl: service.url });
    await client.login(username, DEFAULT_PASSWORD);
    const wrong = await client.completeMfa({ code: '000000' }).catch((error: unknown) => error);
    // (One chance in a million that 000000 is the current code.)
    if (wrong instanceof AuthError) expect(wrong.code).toBe('invalid_mfa_code');
    await client.completeMfa({ recoveryCode: recoveryCodes[0] as string });
    expect(await client.tokens()).not.toBeNull();
  });

  it('completeMfa() without a pending login is invalid_token, sending nothing', async () => {
    const client = new AuthClient({ baseUrl: service.url });
    await expect(client.completeMfa({ code: '123456' })).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a step-up refusal emits stepUpRequired with the reason, and does not refresh', async () => {
    const username = freshName();
    const client = new AuthClient({ baseUrl: service.url });
    await client.register(username, DEFAULT_PASSWORD);
    await client.login(username, DEFAULT_PASSWORD);
    const before = (await client.tokens())?.refreshToken;
    const stepUps: { path: string; reason: string; maxAge?: number }[] = [];
    client.on('stepUpRequired', (event) => stepUps.push(event));
    const answer = await client.fetch('/me/sensitive');
    expect(answer.status).toBe(401);
    expect(stepUps).toEqual([{ path: '/me/sensitive', reason: expect.stringMatching(/second factor/) }]);
    expect((await client.tokens())?.refreshToken).toBe(before);
    expect((await client.fetch('/me')).status).toBe(200);
  });
});
