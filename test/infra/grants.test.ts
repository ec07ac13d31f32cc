import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionProfile, functionProfiles } from '../../infra/cdk/functions.ts';
import { type FunctionName, functionNames } from '../../infra/routes.ts';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import { TestAuthenticator } from '../support/authenticator.ts';
import { useFakeClock } from '../support/clock.ts';
import { type GrantUse, granted, MAIL_QUEUE_SEND, recordGrantUses, ungranted } from '../support/grants.ts';
import { localOutbox, mailsTo } from '../support/mailbox.ts';
import { functionClients } from '../support/sdk-middleware.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// IAM grants tied to the requests each function really sends. dynalite has no IAM: every test service records
// each DynamoDB request by the function that sent it, as the grant it needs (action and the kind of item its
// key names), and fails on close when the function's profile in infra/cdk/functions.ts does not allow one
// (test/support/service.ts). Here every function is driven through its paths, the failure and contention ones
// included, and the check itself is shown to fail when a grant goes missing.

const MAX_FAILURES = 3;
const ORIGIN = 'http://localhost:3000';
const NEW_PASSWORD = 'a brand new passphrase';
let service: TestService;
let recorder: ReturnType<typeof recordGrantUses>;
const clock = useFakeClock();

beforeAll(async () => {
  service = await startTestService({
    LOGIN_MAX_FAILURES: String(MAX_FAILURES),
    REFRESH_REUSE_GRACE: '5',
    WEBAUTHN_ORIGINS: ORIGIN,
  });
  recorder = recordGrantUses(functionClients(), 'grants-test');
});
afterAll(async () => {
  recorder.remove();
  await service.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const status = async (expected: number, sent: Promise<{ status: number; json: any; text?: string }>) => {
  const answer = await sent;
  expect(answer.status, answer.text).toBe(expected);
  return answer.json;
};

/** Every route and its failure paths, once. */
async function driveEveryFunction() {
  const name = 'grants-user';
  await service.signUp(name);
  await status(409, service.post('/auth/register', { username: name, password: 'someone else entirely' }));
  // Wrong passwords up to the lock, a login refused while locked, and an unknown name from another address.
  for (let i = 0; i < MAX_FAILURES; i += 1) await status(401, service.login(name, 'not the password'));
  await status(429, service.login(name, 'not the password'));
  await status(
    401,
    service.request('POST', '/auth/login', {
      body: { username: 'grants-nobody', password: 'x'.repeat(12) },
      sourceIp: '192.0.2.7',
    }),
  );
  clock.advance(3600);
  // Access tokens of before the wait have expired: the rest runs on sessions of after it.
  const tokens = await status(200, service.login(name));
  const second = await status(200, service.login(name));
  // Refresh, its retry within the grace window, a replay (reuse detection), and a refresh of a revoked session.
  const rotated = await status(200, service.post('/auth/refresh', { refreshToken: second.refreshToken }));
  await status(200, service.post('/auth/refresh', { refreshToken: second.refreshToken }));
  clock.advance(10);
  await status(401, service.post('/auth/refresh', { refreshToken: second.refreshToken }));
  await status(401, service.post('/auth/refresh', { refreshToken: rotated.refreshToken }));
  await status(200, service.me(tokens.accessToken));
  // Discovery answers 404 with an HS256 ring: either way it reads no table.
  await service.request('GET', '/.well-known/openid-configuration');
  await service.request('GET', '/.well-known/jwks.json');
  const third = await status(200, service.login(name));
  await status(200, service.request('GET', '/auth/sessions', { headers: bearer(tokens.accessToken) }));
  const path = `/auth/sessions/${claimsOf(third.accessToken).sid}`;
  await status(204, service.request('DELETE', path, { headers: bearer(tokens.accessToken) }));
  await status(
    204,
    service.post('/auth/logout', { refreshToken: third.refreshToken }, bearer(third.accessToken)),
  );
  const newPassword = NEW_PASSWORD;
  const change = (currentPassword: string) =>
    service.post('/auth/password', { currentPassword, newPassword }, bearer(tokens.accessToken));
  await status(401, change('wrong'));
  await status(204, change(DEFAULT_PASSWORD));
  const fourth = await status(200, service.login(name, newPassword));
  await status(204, service.post('/auth/logout-all', undefined, bearer(fourth.accessToken)));
  const fifth = await status(200, service.login(name, newPassword));
  const body = { password: newPassword };
  await status(204, service.request('DELETE', '/auth/account', { body, headers: bearer(fifth.accessToken) }));
  // The name of a deleted account taken again.
  await status(
    201,
    service.post('/auth/register', { username: name, password: 'the next owner’s passphrase' }),
  );
}

/** The e-mail functions and the mailer: an address on an account, its verification, change and a reset. */
async function driveMailFunctions() {
  const name = 'grants-mail';
  const email = 'grants-mail@example.com';
  const mailbox = async (to: string) => {
    const mail = (await mailsTo(service.server.mailDir, to)).at(-1);
    expect(mail?.token, `a mail with a link to ${to}`).toBeTypeOf('string');
    return mail?.token as string;
  };
  await status(201, service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD, email }));
  // A registration that loses its name gives its address back (a claim deleted).
  await status(
    409,
    service.post('/auth/register', {
      username: name,
      password: DEFAULT_PASSWORD,
      email: 'other@example.com',
    }),
  );
  const tokens = await status(200, service.login(name));
  await status(202, service.post('/auth/email/resend', undefined, bearer(tokens.accessToken)));
  await status(204, service.post('/auth/email/verify', { token: await mailbox(email) }));
  await status(200, service.request('GET', '/auth/account', { headers: bearer(tokens.accessToken) }));
  const changed = 'grants-mail-new@example.com';
  await status(
    204,
    service.post('/auth/email', { email: changed, password: DEFAULT_PASSWORD }, bearer(tokens.accessToken)),
  );
  await status(204, service.post('/auth/email/verify', { token: await mailbox(changed) }));
  // TOTP on (a notice to the verified address), so the reset checks a code under the login's guard.
  const auth = bearer(tokens.accessToken);
  const { secret } = await status(200, service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD }, auth));
  const codeNow = () => totpCodeAt(secret, totpStepAt(Date.now()));
  await status(200, service.post('/auth/mfa/totp/confirm', { code: codeNow() }, auth));
  clock.advance(30);
  const forgot = { body: { email: changed }, sourceIp: '198.51.100.9' };
  await status(202, service.request('POST', '/auth/password/forgot', forgot));
  const link = await mailbox(changed);
  // The link's page, opened as a person and a mail scanner do: the page function sends nothing.
  for (const method of ['GET', 'HEAD']) await status(200, service.request(method, '/reset-password'));
  await status(
    401,
    service.post('/auth/password/reset', { token: link, newPassword: NEW_PASSWORD, code: '000000' }),
  );
  await status(
    204,
    service.post('/auth/password/reset', { token: link, newPassword: NEW_PASSWORD, code: codeNow() }),
  );
  await status(
    202,
    service.request('POST', '/auth/password/forgot', { ...forgot, body: { email: 'nobody@example.com' } }),
  );
  await localOutbox().idle();
}

/** TOTP (enrolment, the second step of a login, step-up, recovery codes, turning it off) and passkeys. */
async function driveSecondFactorFunctions() {
  const name = 'grants-factors';
  const tokens = await service.signUp(name);
  const auth = bearer(tokens.accessToken);
  const { secret } = await status(200, service.post('/auth/mfa/totp', { password: DEFAULT_PASSWORD }, auth));
  const codeNow = () => totpCodeAt(secret, totpStepAt(Date.now()));
  await status(200, service.post('/auth/mfa/totp/confirm', { code: codeNow() }, auth));
  clock.advance(30);
  const { mfaToken } = await status(401, service.login(name));
  const second = await status(200, service.post('/auth/login/mfa', { mfaToken, code: codeNow() }));
  await status(200, service.request('GET', '/me/sensitive', { headers: bearer(second.accessToken) }));
  await status(200, service.post('/auth/mfa/recovery-codes', { password: DEFAULT_PASSWORD }, auth));
  await status(
    204,
    service.request('DELETE', '/auth/mfa/totp', { body: { password: DEFAULT_PASSWORD }, headers: auth }),
  );

  const authenticator = new TestAuthenticator(ORIGIN);
  const creation = await status(
    200,
    service.post('/auth/passkeys/register/options', { password: DEFAULT_PASSWORD }, auth),
  );
  const { passkeyId } = await status(
    201,
    service.post(
      '/auth/passkeys/register',
      { response: authenticator.register(creation), name: 'laptop' },
      auth,
    ),
  );
  await status(200, service.request('GET', '/auth/passkeys', { headers: auth }));
  const path = `/auth/passkeys/${encodeURIComponent(passkeyId)}`;
  await status(200, service.request('PATCH', path, { body: { name: 'phone' }, headers: auth }));
  const options = await status(200, service.post('/auth/passkeys/login/options', {}));
  await status(
    200,
    service.post('/auth/passkeys/login', {
      challengeId: options.challengeId,
      response: authenticator.assert(options),
    }),
  );
  // The passkey as the second factor of a password login: the options, a refused assertion, an accepted one.
  const challenged = await status(401, service.login(name));
  expect(challenged.methods).toEqual(['passkey']);
  const mfaOptions = await status(
    200,
    service.post('/auth/login/mfa/options', { mfaToken: challenged.mfaToken }),
  );
  await status(
    401,
    service.post('/auth/login/mfa', {
      mfaToken: challenged.mfaToken,
      passkey: authenticator.assert(mfaOptions, { badSignature: true }),
    }),
  );
  const again = await status(200, service.post('/auth/login/mfa/options', { mfaToken: challenged.mfaToken }));
  await status(
    200,
    service.post('/auth/login/mfa', { mfaToken: challenged.mfaToken, passkey: authenticator.assert(again) }),
  );
  await status(204, service.request('DELETE', path, { headers: auth }));
}

describe('IAM grants against the requests each function sends', () => {
  it('every function that reaches the table is driven, and each of its requests is granted by its profile', async () => {
    await driveEveryFunction();
    await driveMailFunctions();
    await driveSecondFactorFunctions();
    const uses = recorder.uses();
    const seen = new Set(uses.map((use) => use.function));
    // Generic over the route table: a function added with grants and no path driven here is red.
    for (const fn of functionNames) {
      const profile = functionProfiles[fn];
      if (profile.tableActions.length > 0 || profile.queriesUserIndex) expect(seen, fn).toContain(fn);
      else expect(seen, `${fn} has no grants but sent a request`).not.toContain(fn);
    }
    expect(ungranted(uses)).toEqual([]);
  });

  it('a grant taken away from any profile is reported for the function that needs it', () => {
    const uses = recorder.uses();
    expect(uses.length).toBeGreaterThan(0);
    for (const use of uses) {
      const profile = functionProfiles[use.function];
      const without: FunctionProfile =
        use.action === MAIL_QUEUE_SEND
          ? { ...profile, enqueuesMail: false }
          : use.target.startsWith('index:')
            ? { ...profile, queriesUserIndex: false }
            : { ...profile, tableActions: profile.tableActions.filter((action) => action !== use.action) };
      const profiles = { ...functionProfiles, [use.function]: without } as Record<
        FunctionName,
        FunctionProfile
      >;
      expect(ungranted([use], profiles)).toEqual([use]);
      // And an item kind the profile does not name is refused even with the action.
      if (use.action.startsWith('dynamodb:') && !use.target.startsWith('index:')) {
        const otherKind: GrantUse = { ...use, target: 'no-such-kind' };
        expect(granted(profile, otherKind)).toBe(false);
      }
    }
  });
});
