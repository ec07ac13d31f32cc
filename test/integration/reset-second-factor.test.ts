import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import { mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';
import { codeNow, nextStepOf, otherThan } from '../support/totp.ts';

const MAX_FAILURES = 10;
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES) });
});
afterAll(() => service.close());
const clock = useFakeClock();

let names = 0;
const freshName = () => `reset-mfa-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const nextStep = nextStepOf(clock);
const NEW_PASSWORD = 'a brand new passphrase';

let clients = 0;
/** An address of its own per forgot request (the per-client limit of forgot stays out of the way). */
const someClient = () => {
  clients += 1;
  return `10.${clients >> 16}.${(clients >> 8) & 255}.${clients & 255}`;
};

/** An account with an address and TOTP on: its name, address, secret and recovery codes. */
async function enrolledWithEmail() {
  const username = freshName();
  const email = `${username}@example.com`;
  expect((await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email })).status).toBe(
    201,
  );
  const tokens = (await service.login(username)).json;
  const started = await service.post(
    '/auth/mfa/totp',
    { password: DEFAULT_PASSWORD },
    bearer(tokens.accessToken),
  );
  const secret = started.json.secret as string;
  const confirmed = await service.post(
    '/auth/mfa/totp/confirm',
    { code: codeNow(secret) },
    bearer(tokens.accessToken),
  );
  expect(confirmed.status).toBe(200);
  return { username, email, secret, recoveryCodes: confirmed.json.recoveryCodes as string[] };
}

async function resetLinkFor(email: string): Promise<string> {
  const before = (await mailsTo(service.server.mailDir, email)).length;
  const asked = await service.request('POST', '/auth/password/forgot', {
    body: { email },
    sourceIp: someClient(),
  });
  expect(asked.status).toBe(202);
  const mails = await mailsTo(service.server.mailDir, email);
  expect(mails.length).toBe(before + 1);
  return mails.at(-1)?.token as string;
}

const reset = (body: Record<string, unknown>, sourceIp?: string) =>
  service.request('POST', '/auth/password/reset', { body, ...(sourceIp && { sourceIp }) });

/** Whether the password is now `password` (a login that gets as far as the second factor). */
const passwordIs = async (username: string, password: string) =>
  (await service.login(username, password)).json.error === 'mfa_required';

describe('POST /auth/password/reset for an account with TOTP', () => {
  it('without a code is 401 mfa_required with the methods, and the link stays usable', async () => {
    const { username, email, secret } = await enrolledWithEmail();
    const token = await resetLinkFor(email);
    const refused = await reset({ token, newPassword: NEW_PASSWORD });
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({
      error: 'mfa_required',
      message: expect.any(String),
      methods: ['totp', 'recovery_code'],
    });
    expect(await passwordIs(username, DEFAULT_PASSWORD)).toBe(true);
    nextStep();
    expect((await reset({ token, newPassword: NEW_PASSWORD, code: codeNow(secret) })).status).toBe(204);
    expect(await passwordIs(username, NEW_PASSWORD)).toBe(true);
  });

  it('a wrong code is 401 invalid_mfa_code, counted toward the lockout, and the link stays usable', async () => {
    const { username, email, secret } = await enrolledWithEmail();
    const token = await resetLinkFor(email);
    const address = '198.51.100.23';
    nextStep();
    const right = codeNow(secret);
    const wrong = await reset({ token, newPassword: NEW_PASSWORD, code: otherThan(right) }, address);
    expect(wrong.status).toBe(401);
    expect(wrong.json.error).toBe('invalid_mfa_code');
    expect((await service.storedItem(`user#${username}`))?.pairs?.[address]?.f).toBe(1);
    expect(await passwordIs(username, DEFAULT_PASSWORD)).toBe(true);
    expect((await reset({ token, newPassword: NEW_PASSWORD, code: right }, address)).status).toBe(204);
    expect(await passwordIs(username, NEW_PASSWORD)).toBe(true);
  });

  it('takes a recovery code once, and the account keeps its second factor', async () => {
    const { username, email, recoveryCodes } = await enrolledWithEmail();
    const [code = ''] = recoveryCodes;
    const first = await reset({
      token: await resetLinkFor(email),
      newPassword: NEW_PASSWORD,
      recoveryCode: code,
    });
    expect(first.status).toBe(204);
    const again = await reset({
      token: await resetLinkFor(email),
      newPassword: 'yet another passphrase',
      recoveryCode: code,
    });
    expect(again.json.error).toBe('invalid_mfa_code');
    const item = await service.storedItem(`user#${username}`);
    expect(Object.keys(item?.recoveryCodes ?? {})).toHaveLength(9);
    // The reset changed the password, not the second factor: the login still asks for it.
    expect(await passwordIs(username, NEW_PASSWORD)).toBe(true);
  });

  it('refuses a code whose step a login already used, and two proofs at once', async () => {
    const { username, email, secret, recoveryCodes } = await enrolledWithEmail();
    nextStep();
    const code = codeNow(secret);
    const login = await service.post('/auth/login', { username, password: DEFAULT_PASSWORD });
    expect((await service.post('/auth/login/mfa', { mfaToken: login.json.mfaToken, code })).status).toBe(200);
    const token = await resetLinkFor(email);
    expect((await reset({ token, newPassword: NEW_PASSWORD, code })).json.error).toBe('invalid_mfa_code');
    const both = await reset({ token, newPassword: NEW_PASSWORD, code, recoveryCode: recoveryCodes[0] });
    expect(both.status).toBe(400);
    expect(both.json.error).toBe('invalid_request');
  });

  it('an account without a second factor resets with the link alone', async () => {
    const username = freshName();
    const email = `${username}@example.com`;
    await service.post('/auth/register', { username, password: DEFAULT_PASSWORD, email });
    expect((await reset({ token: await resetLinkFor(email), newPassword: NEW_PASSWORD })).status).toBe(204);
    expect((await service.login(username, NEW_PASSWORD)).status).toBe(200);
  });
});

describe('one code, racing resets and logins', () => {
  it('is accepted exactly once, whatever mix of resets (one link) and login completions race with it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('reset', 'login'), { minLength: 2, maxLength: 5 }),
        fc.boolean(),
        async (racers, recovery) => {
          const { username, email, secret, recoveryCodes } = await enrolledWithEmail();
          nextStep();
          const proof = recovery ? { recoveryCode: recoveryCodes[0] } : { code: codeNow(secret) };
          const link = await resetLinkFor(email);
          const mfaTokens = await Promise.all(
            racers.map(async (kind) =>
              kind === 'login'
                ? (await service.post('/auth/login', { username, password: DEFAULT_PASSWORD })).json.mfaToken
                : undefined,
            ),
          );
          const answers = await Promise.all(
            racers.map((kind, i) =>
              kind === 'reset'
                ? reset({ token: link, newPassword: `${NEW_PASSWORD} ${i}`, ...proof })
                : service.post('/auth/login/mfa', { mfaToken: mfaTokens[i], ...proof }),
            ),
          );
          const won = answers.filter((answer) => answer.status === 200 || answer.status === 204);
          expect(won).toHaveLength(1);
          for (const answer of answers.filter((a) => a.status >= 400))
            expect(answer.json.error).toBe('invalid_mfa_code');
        },
      ),
      { numRuns: 8 },
    );
  });
});
