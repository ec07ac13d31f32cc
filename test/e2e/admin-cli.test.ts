import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaults } from '../../lib/config.ts';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

// `npm run admin -- ...` is `node scripts/admin.ts ...`: run here as its own process, as an operator would,
// against the local service's store (the endpoint `npm start` prints as DYNAMODB_ENDPOINT).
const run = promisify(execFile);
const ADMIN = fileURLToPath(new URL('../../scripts/admin.ts', import.meta.url));
let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ADMIN, ...args], {
      env: {
        PATH: process.env.PATH,
        DYNAMODB_ENDPOINT: service.server.dynamoDbEndpoint,
        TABLE_NAME: process.env.TABLE_NAME ?? defaults.TABLE_NAME,
        POWERTOOLS_METRICS_DISABLED: 'true',
      },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// Each command is a node process: on a shared 2-core machine each may take seconds.
describe('npm run admin', { timeout: 120_000 }, () => {
  it('lists users and shows one, never with a hash or a token', async () => {
    const tokens = await service.signUp('cli-alice');
    await service.signUp('cli-bob');
    const users = await admin('users');
    expect(users.code).toBe(0);
    expect(users.stdout).toContain(`cli-alice\t${claimsOf(tokens.accessToken).sub}`);
    expect(users.stdout).toContain('cli-bob\t');
    const shown = await admin('show', 'CLI-Alice');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('username: cli-alice');
    expect(shown.stdout).toContain('disabled: no');
    for (const output of [users.stdout, shown.stdout]) {
      expect(output).not.toMatch(/argon2|\$v=|eyJ/);
    }
  });

  it('disable revokes every session at once and refuses the right password with 403; enable lets logins in', async () => {
    const first = await service.signUp('cli-carol');
    const second = (await service.login('cli-carol')).json;
    const disabled = await admin('disable', 'cli-carol');
    expect(disabled.code).toBe(0);
    expect(disabled.stdout.trim()).toBe('disabled cli-carol: every session revoked');
    for (const tokens of [first, second]) expect((await service.me(tokens.accessToken)).status).toBe(401);
    const right = await service.login('cli-carol');
    expect(right.status).toBe(403);
    expect(right.json.error).toBe('account_disabled');
    expect((await service.login('cli-carol', 'not the password at all')).status).toBe(401);
    expect((await admin('show', 'cli-carol')).stdout).toContain('disabled: yes');

    expect((await admin('enable', 'cli-carol')).code).toBe(0);
    const again = await service.login('cli-carol');
    expect(again.status).toBe(200);
    expect((await service.me(again.json.accessToken)).status).toBe(200);
  });

  it('revoke-sessions ends every session; unlock lifts a lockout', async () => {
    const tokens = await service.signUp('cli-dave');
    expect((await admin('revoke-sessions', 'cli-dave')).code).toBe(0);
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(401);

    for (let i = 0; i < 5; i += 1) await service.login('cli-dave', 'not the password at all');
    expect((await service.login('cli-dave')).status).toBe(429);
    expect((await admin('show', 'cli-dave')).stdout).toMatch(/lockedUntil: \d{4}-/);
    expect((await admin('unlock', 'cli-dave')).code).toBe(0);
    expect((await service.login('cli-dave')).status).toBe(200);
  });

  it('mfa-reset removes TOTP and the recovery codes and ends every session; the password alone then signs in', async () => {
    const tokens = await service.signUp('cli-frank');
    const started = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    const code = totpCodeAt(started.json.secret, totpStepAt(Date.now()));
    expect((await service.post('/auth/mfa/totp/confirm', { code }, bearer(tokens.accessToken))).status).toBe(
      200,
    );
    expect((await service.login('cli-frank')).json.error).toBe('mfa_required');
    expect((await admin('show', 'cli-frank')).stdout).toContain('secondFactors: totp, recovery_code');
    const reset = await admin('mfa-reset', 'cli-frank');
    expect(reset.code).toBe(0);
    expect(reset.stdout.trim()).toBe('removed every second factor of cli-frank: every session revoked');
    expect((await service.me(tokens.accessToken)).status).toBe(401);
    expect((await service.login('cli-frank')).status).toBe(200);
    expect((await admin('mfa-reset', 'nobody-at-all')).code).toBe(1);
  });

  it('roles --add/--remove reach tokens at the next login or refresh, the authorizer context and /me', async () => {
    const tokens = await service.signUp('cli-erin');
    const added = await admin('roles', 'cli-erin', '--add', 'admin', '--add', 'support');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('admin, support');
    expect((await service.me(tokens.accessToken)).json.roles).toEqual([]);
    const refreshed = (await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).json;
    expect(claimsOf(refreshed.accessToken).roles).toEqual(['admin', 'support']);
    expect((await service.me(refreshed.accessToken)).json.roles).toEqual(['admin', 'support']);

    expect((await admin('roles', 'cli-erin', '--remove', 'admin')).stdout).toContain('support');
    const login = (await service.login('cli-erin')).json;
    expect((await service.me(login.accessToken)).json.roles).toEqual(['support']);
    const sessions = await service.request('GET', '/auth/sessions', { headers: bearer(login.accessToken) });
    expect(sessions.status).toBe(200);
  });

  it('exits 1 with one line for an unknown user, a bad role, bad usage and an unreachable store', async () => {
    const cases = [
      ['show', 'nobody-at-all'],
      ['disable', 'nobody-at-all'],
      ['roles', 'cli-alice', '--add', 'has,comma'],
      ['frobnicate', 'cli-alice'],
      ['roles', 'cli-alice', '--add'],
      [],
    ];
    const results = await Promise.all(cases.map((args) => admin(...args)));
    for (const [i, args] of cases.entries()) {
      const result = results[i] as Awaited<ReturnType<typeof admin>>;
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stdout, args.join(' ')).toBe('');
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(results[0]?.stderr.trim()).toBe('error: No user "nobody-at-all".');
    const { code, stderr } = await run(process.execPath, [ADMIN, 'users'], {
      env: { PATH: process.env.PATH, DYNAMODB_ENDPOINT: 'http://127.0.0.1:9' },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^error: the store could not be reached/);
  });
});
