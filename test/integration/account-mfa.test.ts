import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestAuthenticator } from '../support/authenticator.ts';
import { useFakeClock } from '../support/clock.ts';
import { mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';
import { codeNow, nextStepOf } from '../support/totp.ts';

const ORIGIN = 'http://localhost:3000';
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ WEBAUTHN_ORIGINS: ORIGIN });
});
afterAll(() => service.close());
const clock = useFakeClock();

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const nextStep = nextStepOf(clock);
const mfaOf = async (accessToken: string) => {
  const answer = await service.request('GET', '/auth/account', { headers: bearer(accessToken) });
  expect(answer.status, answer.text).toBe(200);
  return answer.json.mfa;
};

describe("GET /auth/account's mfa", () => {
  it('follows TOTP, the recovery codes left and the passkeys as they are enrolled, used and removed', async () => {
    const username = `account-mfa-${Math.random().toString(36).slice(2, 8)}`;
    const tokens = await service.signUp(username);
    const { accessToken } = tokens;
    expect(await mfaOf(accessToken)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });

    const started = await service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD }, bearer(accessToken));
    // Pending is not on.
    expect(await mfaOf(accessToken)).toEqual({ totp: false, passkeys: 0, recoveryCodesLeft: 0 });
    const secret = started.json.secret as string;
    const confirmed = await service.post(
      '/auth/mfa/totp/confirm',
      { code: codeNow(secret) },
      bearer(accessToken),
    );
    expect(confirmed.status).toBe(200);
    expect(await mfaOf(accessToken)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 10 });

    const login = await service.post('/auth/login', { username, password: DEFAULT_PASSWORD });
    const recoveryCode = (confirmed.json.recoveryCodes as string[])[3];
    expect(
      (await service.post('/auth/login/mfa', { mfaToken: login.json.mfaToken, recoveryCode })).status,
    ).toBe(200);
    expect(await mfaOf(accessToken)).toEqual({ totp: true, passkeys: 0, recoveryCodesLeft: 9 });

    const authenticator = new TestAuthenticator(ORIGIN);
    const passkeyIds: string[] = [];
    for (const name of ['laptop', 'phone']) {
      const creation = await service.post(
        '/auth/passkeys/register/options',
        { password: DEFAULT_PASSWORD },
        bearer(accessToken),
      );
      const registered = await service.post(
        '/auth/passkeys/register',
        { response: authenticator.register(creation.json), name },
        bearer(accessToken),
      );
      expect(registered.status).toBe(201);
      passkeyIds.push(registered.json.passkeyId);
    }
    expect(await mfaOf(accessToken)).toEqual({ totp: true, passkeys: 2, recoveryCodesLeft: 9 });

    const deleted = await service.request(
      'DELETE',
      `/auth/passkeys/${encodeURIComponent(passkeyIds[0] ?? '')}`,
      {
        headers: bearer(accessToken),
      },
    );
    expect(deleted.status).toBe(204);
    nextStep();
    const off = await service.request('DELETE', '/auth/mfa/totp', {
      body: { password: DEFAULT_PASSWORD },
      headers: bearer(accessToken),
    });
    expect(off.status).toBe(204);
    expect(await mfaOf(accessToken)).toEqual({ totp: false, passkeys: 1, recoveryCodesLeft: 0 });
  });
});

describe('second-factor notices', () => {
  const subjects = async (email: string) =>
    (await mailsTo(service.server.mailDir, email)).map((m) => m.subject);

  it('mail the verified address when TOTP is turned on or off, recovery codes are replaced, or a passkey is added or removed', async () => {
    const username = `notice-${Math.random().toString(36).slice(2, 8)}`;
    const email = `${username}@example.com`;
    await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email });
    const [verification] = await mailsTo(service.server.mailDir, email);
    expect((await service.post('/auth/email/verify', { token: verification?.token })).status).toBe(204);
    const { accessToken } = (await service.login(username)).json;
    const auth = bearer(accessToken);

    const started = await service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD }, auth);
    await service.post('/auth/mfa/totp/confirm', { code: codeNow(started.json.secret) }, auth);
    await service.post('/auth/mfa/recovery-codes', { password: DEFAULT_PASSWORD }, auth);
    const authenticator = new TestAuthenticator(ORIGIN);
    const creation = await service.post(
      '/auth/passkeys/register/options',
      { password: DEFAULT_PASSWORD },
      auth,
    );
    const added = await service.post(
      '/auth/passkeys/register',
      { response: authenticator.register(creation.json) },
      auth,
    );
    expect(added.status).toBe(201);
    await service.request('DELETE', `/auth/passkeys/${encodeURIComponent(added.json.passkeyId)}`, {
      headers: auth,
    });
    await service.request('DELETE', '/auth/mfa/totp', {
      body: { password: DEFAULT_PASSWORD },
      headers: auth,
    });
    // Off twice: nothing more was turned off, nothing more is said.
    await service.request('DELETE', '/auth/mfa/totp', {
      body: { password: DEFAULT_PASSWORD },
      headers: auth,
    });

    expect((await subjects(email)).slice(1)).toEqual([
      'Two-step sign-in was turned on',
      'New recovery codes were made',
      'A passkey was added',
      'A passkey was removed',
      'Two-step sign-in was turned off',
    ]);
    const notices = (await mailsTo(service.server.mailDir, email)).slice(1);
    for (const notice of notices) {
      expect(notice.text).toContain(username);
      expect(notice.link).toBeUndefined();
    }
  });

  it('say nothing to an address that was never verified', async () => {
    const username = `notice-${Math.random().toString(36).slice(2, 8)}`;
    const email = `${username}@example.com`;
    await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email });
    const { accessToken } = (await service.login(username)).json;
    const started = await service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD }, bearer(accessToken));
    const confirmed = await service.post(
      '/auth/mfa/totp/confirm',
      { code: codeNow(started.json.secret) },
      bearer(accessToken),
    );
    expect(confirmed.status).toBe(200);
    expect(await subjects(email)).toEqual(['Verify your e-mail address']);
  });
});
