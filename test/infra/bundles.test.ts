import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTable, type LocalDynamo, startLocalDynamo } from '../../infra/local/dynamo.ts';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import { type SsmStandIn, startSsmStandIn } from '../../infra/local/ssm-stand-in.ts';
import type { FunctionName } from '../../infra/routes.ts';
import { defaults } from '../../lib/config.ts';
import { TestAuthenticator } from '../support/authenticator.ts';
import { builtBundles } from '../support/bundles.ts';
import { mailsIn, type ReceivedMail } from '../support/mailbox.ts';
import { TEST_SECRET } from '../support/service.ts';
import { type SqsStandIn, startSqsStandIn } from '../support/sqs-stand-in.ts';

/**
 * The bundle smoke test: synthesize the stack as `cdk synth` does (esbuild bundling included), then import the
 * built bundles themselves, not the TypeScript, and drive a session through them against the in-process
 * DynamoDB-compatible store and the SSM stand-in. This is what catches an ESM/CJS or bundling mistake.
 */
type Handler = (event: unknown, context: unknown) => Promise<any>;

let bundles = {} as Record<FunctionName, string>;
const handlers = {} as Record<FunctionName, Handler>;
let dynamo: LocalDynamo;
let ssm: SsmStandIn;
let sqs: SqsStandIn;
const mailDir = mkdtempSync(join(tmpdir(), 'bundle-mail-'));

/**
 * The mails of the sink to `to`, once there are `count` of them (polled, within a deadline). As on AWS, the
 * functions only queue mail requests: the mailer bundle takes what is on the queue, as one SQS batch, first.
 */
async function mailsTo(to: string, count: number): Promise<ReceivedMail[]> {
  const Records = sqs.drain().map(({ messageId, body }) => ({ messageId, body }));
  if (Records.length > 0)
    expect(await handlers.mailer({ Records }, lambdaContext('mailer'))).toEqual({ batchItemFailures: [] });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const mails = (await mailsIn(mailDir)).filter((mail) => mail.to === to);
    if (mails.length >= count || Date.now() > deadline) return mails;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  // Built once per set of inputs and shared (test/support/bundles.ts): a synth with esbuild takes a while.
  ({ bundles } = await builtBundles());
  dynamo = await startLocalDynamo();
  ssm = await startSsmStandIn();
  sqs = await startSqsStandIn();
  const tableName = 'auth-bundle-smoke';
  const parameterName = '/auth-service/bundle-smoke';
  ssm.setParameter(parameterName, TEST_SECRET);
  await createTable(dynamo.endpoint, tableName);
  // As the stack sets it (plus the local endpoints): the bundles read their configuration at import.
  Object.assign(process.env, {
    AWS_REGION: 'local',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    TABLE_NAME: tableName,
    JWT_SECRET_PARAM: parameterName,
    // As on AWS, the functions put mail requests on a queue (a stand-in here) and the mailer alone sends them,
    // to the file sink instead of SES: no other bundle carries a mail transport.
    AWS_ENDPOINT_URL_SQS: new URL(sqs.queueUrl).origin,
    MAIL_QUEUE_URL: sqs.queueUrl,
    MAIL_TRANSPORT: 'file',
    MAIL_DIR: mailDir,
    MAIL_ECHO: 'false',
    WEBAUTHN_ORIGINS: defaults.WEBAUTHN_ORIGINS,
  });
  for (const name of [
    'register',
    'login',
    'authorizer',
    'me',
    'refresh',
    'logout',
    'logout-all',
    'list-sessions',
    'revoke-session',
    'change-password',
    'delete-account',
    'get-account',
    'verify-email',
    'change-email',
    'resend-verification',
    'forgot-password',
    'reset-password',
    'mailer',
    'passkey-register-options',
    'register-passkey',
    'list-passkeys',
    'delete-passkey',
    'passkey-login-options',
    'passkey-login',
    'login-mfa',
    'login-mfa-options',
    'link-pages',
  ] as const) {
    handlers[name] = (await import(pathToFileURL(bundles[name]).href)).handler;
  }
  // A synth with seven esbuild runs, on a 2-core machine that may be busy with other work.
}, 300_000);

afterAll(async () => {
  await dynamo?.close();
  await ssm?.close();
  await sqs?.close();
});

const call = (name: FunctionName, input: Parameters<typeof proxyEvent>[0]) =>
  handlers[name](proxyEvent(input), lambdaContext(name));
const post = (name: FunctionName, path: string, body: unknown, headers: Record<string, string> = {}) =>
  call(name, {
    method: 'POST',
    path,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
const authorize = (accessToken: string) =>
  handlers.authorizer(
    {
      type: 'TOKEN',
      authorizationToken: `Bearer ${accessToken}`,
      methodArn: 'arn:aws:execute-api:eu-west-1:111122223333:api123/v1/GET/me',
    },
    lambdaContext('authorizer'),
  );

describe('the built bundles', () => {
  it('carry no semver (an alias answers jsonwebtoken), and the authorizer no AWS SDK: its session read is one signed request', () => {
    const text = (name: FunctionName) => readFileSync(bundles[name], 'utf8');
    // The SDK's user agent names it in every bundle that carries it; semver's class name is in its code.
    expect(text('login')).toContain('aws-sdk-js');
    expect(text('authorizer')).not.toContain('aws-sdk-js');
    for (const name of ['authorizer', 'login', 'refresh'] as const)
      expect(text(name)).not.toContain('SemVer');
  });

  it('carry SimpleWebAuthn and the TOTP library in login-mfa, not in login, which only opens the second step', () => {
    const text = (name: FunctionName) => readFileSync(bundles[name], 'utf8');
    // SimpleWebAuthn checks an assertion's `type` against this string; otpauth names its URI scheme.
    expect(text('login-mfa')).toContain('webauthn.get');
    expect(text('login-mfa')).toContain('otpauth:');
    expect(text('login')).not.toContain('webauthn.get');
    expect(text('login')).not.toContain('otpauth:');
  });

  it('carry the mail transport (nodemailer, the SES client) in the mailer alone: the other functions only queue', () => {
    const text = (name: FunctionName) => readFileSync(bundles[name], 'utf8');
    expect(text('mailer')).toContain('nodemailer');
    expect(text('mailer')).toContain('SendEmail');
    for (const name of Object.keys(bundles) as FunctionName[]) {
      if (name === 'mailer') continue;
      expect(text(name), name).not.toContain('nodemailer');
      expect(text(name), name).not.toContain('SendEmail');
    }
  });

  it('are one minified ESM file per function, each with its source map', () => {
    for (const name of Object.keys(bundles) as FunctionName[]) {
      expect(bundles[name], name).toMatch(/index\.mjs$/);
      expect(existsSync(`${bundles[name]}.map`), name).toBe(true);
      expect(statSync(bundles[name]).size, name).toBeGreaterThan(0);
    }
  });

  it('drive register -> login -> authorizer -> /me -> refresh (and its retry) -> logout, and refuse the session afterwards', async () => {
    const password = 'a bundle smoke password';
    const registered = await post('register', '/auth/register', { username: 'bundle-user', password });
    expect(registered.statusCode, registered.body).toBe(201);

    const login = await post('login', '/auth/login', { username: 'bundle-user', password });
    expect(login.statusCode, login.body).toBe(200);
    const tokens = JSON.parse(login.body);

    const allowed = await authorize(tokens.accessToken);
    expect(allowed.policyDocument.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Resource: 'arn:aws:execute-api:eu-west-1:111122223333:api123/v1/*',
    });
    expect(allowed.context).toMatchObject({ username: 'bundle-user', roles: '', amr: 'pwd' });

    const me = await call('me', {
      method: 'GET',
      path: '/me',
      authorizer: { principalId: allowed.principalId, ...allowed.context },
    });
    expect(me.statusCode).toBe(200);
    expect(JSON.parse(me.body)).toEqual({
      ...allowed.context,
      roles: [],
      amr: ['pwd'],
      authTime: Number(allowed.context.authTime),
    });

    const refreshed = await post('refresh', '/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.statusCode, refreshed.body).toBe(200);
    const next = JSON.parse(refreshed.body);
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    // That answer lost on the way back: the retry with the login's token gets the very same pair.
    const retried = await post('refresh', '/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(JSON.parse(retried.body)).toMatchObject({
      accessToken: next.accessToken,
      refreshToken: next.refreshToken,
    });

    const logout = await post('logout', '/auth/logout', {}, { authorization: `Bearer ${next.accessToken}` });
    expect(logout.statusCode, logout.body).toBe(204);
    await expect(authorize(next.accessToken)).rejects.toThrow('Unauthorized');
    const afterLogout = await post('refresh', '/auth/refresh', { refreshToken: next.refreshToken });
    expect(afterLogout.statusCode).toBe(401);
    expect(JSON.parse(afterLogout.body).error).toBe('session_revoked');
  });

  it('drive the session list, revoke-one, logout-all, password change and account deletion', async () => {
    const password = 'a bundle account password';
    const username = 'bundle-account';
    expect((await post('register', '/auth/register', { username, password })).statusCode).toBe(201);
    const logIn = async (secret = password) =>
      JSON.parse((await post('login', '/auth/login', { username, password: secret })).body);
    const [first, second, third] = [await logIn(), await logIn(), await logIn()];
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const sidOf = (token: string) => claimOf(token, 'sid');

    const listed = await call('list-sessions', {
      method: 'GET',
      path: '/auth/sessions',
      headers: bearer(third.accessToken),
    });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(JSON.parse(listed.body).sessions.map((s: { sessionId: string }) => s.sessionId)).toEqual(
      [third, second, first].map((tokens) => sidOf(tokens.accessToken)),
    );

    const revoked = await call('revoke-session', {
      method: 'DELETE',
      path: `/auth/sessions/${sidOf(first.accessToken)}`,
      resource: '/auth/sessions/{sessionId}',
      pathParameters: { sessionId: sidOf(first.accessToken) },
      headers: bearer(third.accessToken),
    });
    expect(revoked.statusCode, revoked.body).toBe(204);
    await expect(authorize(first.accessToken)).rejects.toThrow('Unauthorized');

    const newPassword = 'a changed bundle password';
    const changed = await post(
      'change-password',
      '/auth/password',
      { currentPassword: password, newPassword },
      bearer(third.accessToken),
    );
    expect(changed.statusCode, changed.body).toBe(204);
    await expect(authorize(second.accessToken)).rejects.toThrow('Unauthorized');
    expect((await authorize(third.accessToken)).principalId).toBe(claimOf(third.accessToken, 'sub'));

    const fourth = await logIn(newPassword);
    expect((await post('logout-all', '/auth/logout-all', {}, bearer(fourth.accessToken))).statusCode).toBe(
      204,
    );
    await expect(authorize(third.accessToken)).rejects.toThrow('Unauthorized');
    await expect(authorize(fourth.accessToken)).rejects.toThrow('Unauthorized');

    const fifth = await logIn(newPassword);
    const deleted = await call('delete-account', {
      method: 'DELETE',
      path: '/auth/account',
      body: JSON.stringify({ password: newPassword }),
      headers: { 'content-type': 'application/json', ...bearer(fifth.accessToken) },
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    await expect(authorize(fifth.accessToken)).rejects.toThrow('Unauthorized');
    expect((await post('register', '/auth/register', { username, password })).statusCode).toBe(201);
  });

  it('drive a passkey: added after the password, signed in with (no password), authorized, listed, the second factor after the password, and deleted', async () => {
    const password = 'a bundle passkey password';
    const username = 'bundle-passkey';
    expect((await post('register', '/auth/register', { username, password })).statusCode).toBe(201);
    const tokens = JSON.parse((await post('login', '/auth/login', { username, password })).body);
    const bearer = { authorization: `Bearer ${tokens.accessToken}` };
    const authenticator = new TestAuthenticator(defaults.WEBAUTHN_ORIGINS);
    const options = await post(
      'passkey-register-options',
      '/auth/passkeys/register/options',
      { password },
      bearer,
    );
    expect(options.statusCode, options.body).toBe(200);
    const response = authenticator.register(JSON.parse(options.body));
    const added = await post('register-passkey', '/auth/passkeys/register', { response }, bearer);
    expect(added.statusCode, added.body).toBe(201);
    const { passkeyId } = JSON.parse(added.body);

    const loginOptions = JSON.parse(
      (await post('passkey-login-options', '/auth/passkeys/login/options', {})).body,
    );
    const signedIn = await post('passkey-login', '/auth/passkeys/login', {
      challengeId: loginOptions.challengeId,
      response: authenticator.assert(loginOptions),
    });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const passkeyTokens = JSON.parse(signedIn.body);
    expect((await authorize(passkeyTokens.accessToken)).context).toMatchObject({ username });

    const listed = await call('list-passkeys', {
      method: 'GET',
      path: '/auth/passkeys',
      headers: { authorization: `Bearer ${passkeyTokens.accessToken}` },
    });
    expect(JSON.parse(listed.body).passkeys.map((p: { passkeyId: string }) => p.passkeyId)).toEqual([
      passkeyId,
    ]);

    // The password now asks for the passkey as a second factor.
    const challenged = JSON.parse((await post('login', '/auth/login', { username, password })).body);
    expect(challenged).toMatchObject({ error: 'mfa_required', methods: ['passkey'] });
    const mfaOptions = await post('login-mfa-options', '/auth/login/mfa/options', {
      mfaToken: challenged.mfaToken,
    });
    expect(mfaOptions.statusCode, mfaOptions.body).toBe(200);
    const secondStep = await post('login-mfa', '/auth/login/mfa', {
      mfaToken: challenged.mfaToken,
      passkey: authenticator.assert(JSON.parse(mfaOptions.body)),
    });
    expect(secondStep.statusCode, secondStep.body).toBe(200);
    expect((await authorize(JSON.parse(secondStep.body).accessToken)).context).toMatchObject({
      amr: 'pwd,hwk,user,mfa',
    });

    const deleted = await call('delete-passkey', {
      method: 'DELETE',
      path: `/auth/passkeys/${passkeyId}`,
      resource: '/auth/passkeys/{passkeyId}',
      pathParameters: { passkeyId },
      headers: { authorization: `Bearer ${passkeyTokens.accessToken}` },
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
  });
});

describe('the built bundles, by e-mail', () => {
  it('drive register with an address -> verify -> account, forgot -> mail -> reset, and the mailer on an SQS batch', async () => {
    const username = 'bundle-mail';
    const email = 'bundle-mail@example.com';
    const password = 'a bundle mail password';
    const registered = await post('register', '/auth/register', { username, password, email });
    expect(registered.statusCode, registered.body).toBe(201);
    const [verification] = await mailsTo(email, 1);
    expect(verification?.subject).toBe('Verify your e-mail address');
    const verified = await post('verify-email', '/auth/email/verify', { token: verification?.token });
    expect(verified.statusCode, verified.body).toBe(204);
    const tokens = JSON.parse((await post('login', '/auth/login', { username, password })).body);
    const account = await call('get-account', {
      method: 'GET',
      path: '/auth/account',
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(JSON.parse(account.body)).toMatchObject({ email, emailVerified: true });

    const forgot = await post('forgot-password', '/auth/password/forgot', { email });
    expect(forgot.statusCode).toBe(202);
    expect(forgot.body).toBe('{}');
    const [, reset] = await mailsTo(email, 2);
    expect(reset?.subject).toBe('Reset your password');
    // The link's page, from the bundle: the whole page in one answer, its inline script allowed by hash.
    const page = await call('link-pages', { method: 'GET', path: new URL(reset?.link ?? '').pathname });
    expect(page.statusCode).toBe(200);
    expect(page.headers['Content-Type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<form id="reset-form"');
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? '';
    expect(script).toContain('auth/password/reset');
    expect(page.headers['Content-Security-Policy']).toContain(
      `script-src 'sha256-${createHash('sha256').update(script).digest('base64')}'`,
    );
    const done = await post('reset-password', '/auth/password/reset', {
      token: reset?.token,
      newPassword: 'a reset bundle password',
    });
    expect(done.statusCode, done.body).toBe(204);
    await expect(authorize(tokens.accessToken)).rejects.toThrow('Unauthorized');

    // The mailer as SQS invokes it: a forgot request on the queue becomes a reset mail.
    const batch = await handlers.mailer(
      { Records: [{ messageId: 'm-1', body: JSON.stringify({ kind: 'forgot', email }) }] },
      lambdaContext('mailer'),
    );
    expect(batch).toEqual({ batchItemFailures: [] });
    const mails = await mailsTo(email, 4);
    expect(mails.map((mail) => mail.subject).filter((s) => s === 'Reset your password')).toHaveLength(2);
    expect(mails.some((mail) => mail.subject === 'Your password was reset')).toBe(true);
  });
});

/** One claim of a token, read without verification (for assertions only). */
const claimOf = (token: string, claim: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString())[claim];
