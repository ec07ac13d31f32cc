import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser, enableUser, resetSecondFactors } from '../../lib/operations/admin.ts';
import { defaultServices } from '../../lib/services.ts';
import { NAME_FAILURES_PER_HOUR } from '../../lib/store/lockout-policy.ts';
import { useFakeClock } from '../support/clock.ts';
import {
  type ApiResponse,
  claimsOf,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
} from '../support/service.ts';
import { codeNow, nextStepOf, otherThan } from '../support/totp.ts';

// API.md "Brute force", "Known devices": a login carrying the user's device token is judged by that device's own
// failure count and lock, never by the name's check slots or hourly ceiling; re-entering the password from a
// live session is judged per session the same way.
const MAX_FAILURES = 5;
const LOCKOUT_BASE = 30;
const LOCKOUT_MAX = 600;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    LOGIN_MAX_FAILURES: String(MAX_FAILURES),
    LOGIN_LOCKOUT_BASE: String(LOCKOUT_BASE),
    LOGIN_LOCKOUT_MAX: String(LOCKOUT_MAX),
    LOGIN_FAILURE_WINDOW: '900',
    LOGIN_ADDRESS_MAX_FAILURES: '100',
  });
});
afterAll(() => service.close());
const clock = useFakeClock();

let used = 0;
/** An address in a /64 (or an IPv4 address) of its own that no other test has used. */
const freshAddress = () => {
  used += 1;
  return used % 2 === 0
    ? `203.0.${Math.floor(used / 250)}.${used % 250}`
    : `2001:db8:d:${used.toString(16)}::1`;
};
const freshName = (prefix: string) => `${prefix}-${++used}`;
const WRONG = 'not the password at all';

/** `POST /auth/login` from `address`, with a device token when given. */
const loginFrom = (address: string, username: string, password: string, deviceToken?: unknown) =>
  service.request('POST', '/auth/login', {
    body: { username, password, ...(deviceToken !== undefined && { deviceToken }) },
    sourceIp: address,
  });
const retryAfter = (response: ApiResponse) => Number(response.headers.get('retry-after'));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const deviceItem = (token: string) =>
  service.storedItem(`device#${createHash('sha256').update(token).digest('base64url')}`);

/** Registers `name` and logs in once from a device of the owner's: its session and its device token. */
async function owner(name: string): Promise<{ address: string; tokens: any; deviceToken: string }> {
  expect((await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD })).status).toBe(
    201,
  );
  const address = freshAddress();
  const login = await loginFrom(address, name, DEFAULT_PASSWORD);
  expect(login.status).toBe(200);
  return { address, tokens: login.json, deviceToken: login.json.deviceToken };
}

describe('device tokens', () => {
  it('come with every successful login: random, bound to the user, stored only as a hash, answered again when used', async () => {
    const name = freshName('device');
    const { tokens, deviceToken } = await owner(name);
    const userId = claimsOf(tokens.accessToken).sub;
    expect(deviceToken.startsWith(`${userId}.`)).toBe(true);
    const stored = await deviceItem(deviceToken);
    expect(stored).toMatchObject({ userId, generation: 0 });
    expect(typeof stored?.ttl).toBe('number');
    expect(JSON.stringify(stored)).not.toContain(deviceToken.split('.')[1]);
    // A login with it answers the same token; a login without one gets a new one.
    const again = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD, deviceToken);
    expect(again.json.deviceToken).toBe(deviceToken);
    const other = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD);
    expect(other.json.deviceToken).not.toBe(deviceToken);
  });

  it('of another user, unknown, malformed or wrong-typed, are ignored: the login is judged as one without', async () => {
    const alice = await owner(freshName('alice'));
    const bobName = freshName('bob');
    await owner(bobName);
    const forged = `${alice.deviceToken.split('.')[0]}.${'A'.repeat(43)}`;
    for (const token of [alice.deviceToken, forged, 'not-a-token', 42, { a: 1 }, '']) {
      const login = await loginFrom(freshAddress(), bobName, DEFAULT_PASSWORD, token);
      expect(login.status, JSON.stringify(token)).toBe(200);
      expect(login.json.deviceToken).not.toBe(alice.deviceToken);
    }
    // Alice's device was neither used nor counted.
    expect((await deviceItem(alice.deviceToken))?.count).toBeUndefined();
    // Wrong passwords with someone else's token count against the name, as without one.
    await loginFrom(freshAddress(), bobName, WRONG, alice.deviceToken);
    expect((await service.storedItem(`user#${bobName}`))?.hourCount).toBe(1);
  });

  it('take wrong passwords against the device alone, which locks from LOGIN_MAX_FAILURES on, growing', async () => {
    const name = freshName('own');
    const { address, deviceToken } = await owner(name);
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await loginFrom(address, name, WRONG, deviceToken)).status).toBe(401);
    const locked = await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken);
    expect(locked.status).toBe(429);
    expect(retryAfter(locked)).toBe(LOCKOUT_BASE);
    // Nothing counted for the name or the address: another login of the owner's goes through at once.
    const nameItem = await service.storedItem(`user#${name}`);
    expect(nameItem?.hourCount).toBeUndefined();
    expect(Object.keys(nameItem?.pairs ?? {})).toEqual([]);
    expect((await loginFrom(address, name, DEFAULT_PASSWORD)).status).toBe(200);
    // The device's lock grows with each further failure...
    clock.advance(LOCKOUT_BASE);
    expect((await loginFrom(address, name, WRONG, deviceToken)).status).toBe(401);
    const longer = await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken);
    expect(retryAfter(longer)).toBe(2 * LOCKOUT_BASE);
    // ...and a success clears it.
    clock.advance(2 * LOCKOUT_BASE);
    expect((await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken)).status).toBe(200);
    expect((await deviceItem(deviceToken))?.count).toBeUndefined();
    expect((await loginFrom(address, name, WRONG, deviceToken)).status).toBe(401);
    expect((await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken)).status).toBe(200);
  });

  it('check at most LOGIN_MAX_FAILURES of any burst of guesses sent with one token at once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 30 }), async (burst) => {
        const name = freshName('burst');
        const { deviceToken } = await owner(name);
        const answers = await Promise.all(
          Array.from({ length: burst }, () => loginFrom(freshAddress(), name, WRONG, deviceToken)),
        );
        const checked = answers.filter((answer) => answer.status === 401).length;
        // At most LOGIN_MAX_FAILURES are checked, and at least one is; every other guess is told to wait (on a
        // slow store a racer may give up its contended slot with a 429 before the limit is reached).
        expect(checked).toBeLessThanOrEqual(Math.min(burst, MAX_FAILURES));
        expect(checked).toBeGreaterThanOrEqual(1);
        expect(answers.filter((answer) => answer.status === 429)).toHaveLength(burst - checked);
        expect((await deviceItem(deviceToken))?.count?.f).toBe(checked);
      }),
      { numRuns: 6 },
    );
  });

  it.each([
    [
      'logout-all',
      async (tokens: any) => service.post('/auth/logout-all', undefined, bearer(tokens.accessToken)),
    ],
    [
      'a password change from another session',
      async (_tokens: any, name: string) => {
        const other = (await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).json;
        return service.post(
          '/auth/password',
          { currentPassword: DEFAULT_PASSWORD, newPassword: 'an entirely new passphrase' },
          bearer(other.accessToken),
        );
      },
    ],
    [
      'mfa-reset',
      async (_tokens: any, name: string) => {
        await resetSecondFactors(defaultServices(), name);
        return { status: 204 };
      },
    ],
    [
      'disable (and enable)',
      async (_tokens: any, name: string) => {
        await disableUser(defaultServices(), name);
        await enableUser(defaultServices(), name);
        return { status: 204 };
      },
    ],
  ])('are all forgotten by a whole-user revocation: %s', async (_name, revoke) => {
    const name = freshName('forget');
    const { tokens, deviceToken } = await owner(name);
    expect((await revoke(tokens, name)).status).toBe(204);
    const password =
      (await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status === 200
        ? DEFAULT_PASSWORD
        : 'an entirely new passphrase';
    // Judged as a login without a token: a new token, and its wrong guesses count against the name.
    const login = await loginFrom(freshAddress(), name, password, deviceToken);
    expect(login.status).toBe(200);
    expect(login.json.deviceToken).not.toBe(deviceToken);
    await loginFrom(freshAddress(), name, WRONG, deviceToken);
    expect((await deviceItem(deviceToken))?.count).toBeUndefined();
  });
});

describe('distributed guessing at one name', () => {
  it(`exhausts the name (${NAME_FAILURES_PER_HOUR} failures an hour from addresses each under its own limit); the owner's device and live session get in at once, a stranger waits`, async () => {
    const name = freshName('target');
    const { tokens, deviceToken } = await owner(name);
    // 25 guessers, each in a /64 of its own and never at its pair's limit (4 guesses < LOGIN_MAX_FAILURES),
    // waiting out the name's failure slots (LOGIN_LOCKOUT_BASE) whenever they are all held: about ten minutes.
    const guessers = Array.from({ length: 25 }, freshAddress);
    const start = Date.now();
    let checked = 0;
    let ceiling = false;
    for (let round = 0; round < 4 && !ceiling; round += 1) {
      for (const [index, guesser] of guessers.entries()) {
        let answer = await loginFrom(guesser, name, `guess ${round} ${index}`);
        while (answer.status === 429 && retryAfter(answer) <= LOCKOUT_BASE) {
          clock.advance(retryAfter(answer));
          answer = await loginFrom(guesser, name, `guess ${round} ${index}`);
        }
        if (answer.status === 429) {
          ceiling = true;
          break;
        }
        expect(answer.status).toBe(401);
        checked += 1;
      }
    }
    expect(ceiling).toBe(true);
    expect((Date.now() - start) / 1000).toBeLessThan(900);
    expect(checked).toBeGreaterThan(NAME_FAILURES_PER_HOUR - MAX_FAILURES);
    // Every slot has lapsed: what holds the name now is the hourly ceiling, for about an hour.
    clock.advance(LOCKOUT_BASE + 1);
    const stranger = freshAddress();
    const refused = await loginFrom(stranger, name, DEFAULT_PASSWORD);
    expect(refused.status).toBe(429);
    expect(retryAfter(refused)).toBeGreaterThan(3000);

    // The owner's device gets in at once, from anywhere, and keeps its token.
    const fromDevice = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD, deviceToken);
    expect(fromDevice.status).toBe(200);
    expect(fromDevice.json.deviceToken).toBe(deviceToken);
    expect((await service.me(fromDevice.json.accessToken)).status).toBe(200);
    // The owner's session from before the attack (refreshed: its first access token has expired meanwhile)
    // can re-enter the password at once (to change it, here).
    const refreshed = await service.post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    const changed = await service.post(
      '/auth/password',
      { currentPassword: DEFAULT_PASSWORD, newPassword: 'an entirely new passphrase' },
      bearer(refreshed.json.accessToken),
    );
    expect(changed.status).toBe(204);
    // A stranger still waits, right password or not.
    expect((await loginFrom(stranger, name, 'an entirely new passphrase')).status).toBe(429);
    expect((await loginFrom(freshAddress(), name, 'an entirely new passphrase')).status).toBe(429);
  });
});

describe('a login with a second factor', () => {
  const nextStep = nextStepOf(clock);
  const complete = (address: string, body: Record<string, unknown>, headers?: Record<string, string>) =>
    service.request('POST', '/auth/login/mfa', { body, sourceIp: address, ...(headers && { headers }) });

  /** A user with TOTP on, and the device token of its first whole login (password, then a code). */
  async function enrolledOwner(name: string) {
    const tokens = await service.signUp(name);
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
    nextStep();
    const address = freshAddress();
    const first = await loginFrom(address, name, DEFAULT_PASSWORD);
    expect(first.json.error).toBe('mfa_required');
    // The second step answers the device token: the device is known once the whole login has succeeded.
    const done = await complete(address, { mfaToken: first.json.mfaToken, code: codeNow(secret) });
    expect(done.status, done.text).toBe(200);
    expect(done.json.deviceToken).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    return { secret, address, deviceToken: done.json.deviceToken as string };
  }

  it('answers the device token at login/mfa; with it both steps are judged by the device while strangers hold the name', async () => {
    const name = freshName('mfa-device');
    const { secret, deviceToken } = await enrolledOwner(name);
    nextStep();
    // A stranger's failures hold every check slot of the name: a login without the device waits.
    const stranger = freshAddress();
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await loginFrom(stranger, name, WRONG)).status).toBe(401);
    expect((await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status).toBe(429);
    // The owner's device passes both steps at once, and keeps its token.
    const address = freshAddress();
    const first = await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken);
    expect(first.json.error).toBe('mfa_required');
    const done = await complete(address, {
      mfaToken: first.json.mfaToken,
      code: codeNow(secret),
      deviceToken,
    });
    expect(done.status, done.text).toBe(200);
    expect(done.json.deviceToken).toBe(deviceToken);
    expect(claimsOf(done.json.accessToken).amr).toContain('mfa');
    // A stranger still waits.
    expect((await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status).toBe(429);
  });

  it('counts wrong codes sent with a known device against the device (and the mfaToken) alone', async () => {
    const name = freshName('mfa-own');
    const { secret, address, deviceToken } = await enrolledOwner(name);
    const first = await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken);
    for (let i = 0; i < MAX_FAILURES; i += 1) {
      const wrong = await complete(address, {
        mfaToken: first.json.mfaToken,
        code: otherThan(codeNow(secret)),
        deviceToken,
      });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_mfa_code');
    }
    expect((await deviceItem(deviceToken))?.count?.f).toBe(MAX_FAILURES);
    // The device is locked, for its password checks too...
    const locked = await loginFrom(address, name, DEFAULT_PASSWORD, deviceToken);
    expect(locked.status).toBe(429);
    expect(retryAfter(locked)).toBe(LOCKOUT_BASE);
    // ...and nothing was counted for the name: a login without the device is not held.
    const nameItem = await service.storedItem(`user#${name}`);
    expect(nameItem?.hourCount).toBeUndefined();
    const elsewhere = await loginFrom(freshAddress(), name, DEFAULT_PASSWORD);
    expect(elsewhere.json.error).toBe('mfa_required');
  });

  it('reads and answers the device token in its cookie with the cookie transport', async () => {
    const name = freshName('mfa-cookie');
    const { secret } = await enrolledOwner(name);
    const cookieHeaders = (deviceToken?: string) => ({
      'x-token-transport': 'cookie',
      ...(deviceToken && { cookie: `__Secure-device_token=${deviceToken}` }),
    });
    const deviceCookie = (response: ApiResponse) =>
      response.headers
        .getSetCookie()
        .find((cookie) => cookie.startsWith('__Secure-device_token='))
        ?.split(';')[0]
        ?.slice('__Secure-device_token='.length);
    nextStep();
    const address = freshAddress();
    const first = await service.request('POST', '/auth/login', {
      body: { username: name, password: DEFAULT_PASSWORD },
      sourceIp: address,
      headers: cookieHeaders(),
    });
    const done = await complete(
      address,
      { mfaToken: first.json.mfaToken, code: codeNow(secret) },
      cookieHeaders(),
    );
    expect(done.status, done.text).toBe(200);
    expect(done.json.deviceToken).toBeUndefined();
    const deviceToken = deviceCookie(done);
    expect(deviceToken).toBeDefined();
    // Presented in the cookie, it is known: the device's own count judges the code, and it is answered again.
    nextStep();
    const again = await service.request('POST', '/auth/login', {
      body: { username: name, password: DEFAULT_PASSWORD },
      sourceIp: address,
      headers: cookieHeaders(deviceToken),
    });
    const wrong = await complete(
      address,
      { mfaToken: again.json.mfaToken, code: otherThan(codeNow(secret)) },
      cookieHeaders(deviceToken),
    );
    expect(wrong.status).toBe(401);
    expect((await deviceItem(deviceToken as string))?.count?.f).toBe(1);
    const right = await complete(
      address,
      { mfaToken: again.json.mfaToken, code: codeNow(secret) },
      cookieHeaders(deviceToken),
    );
    expect(right.status, right.text).toBe(200);
    expect(deviceCookie(right)).toBe(deviceToken);
  });
});

describe('re-entering the password from a live session', () => {
  it.each([
    ['POST /auth/mfa/totp', 'POST', '/auth/mfa/totp', {}],
    ['DELETE /auth/mfa/totp', 'DELETE', '/auth/mfa/totp', {}],
    ['POST /auth/mfa/recovery-codes', 'POST', '/auth/mfa/recovery-codes', {}],
    ['POST /auth/email', 'POST', '/auth/email', { email: 'owner@example.com' }],
    ['POST /auth/passkeys/register/options', 'POST', '/auth/passkeys/register/options', {}],
  ])(
    '%s: judged by the session’s own count, never the name’s held by strangers',
    async (_label, method, path, body) => {
      const name = freshName('settings');
      const { address, tokens } = await owner(name);
      const other = (await loginFrom(address, name, DEFAULT_PASSWORD)).json;
      const enter = (session: any, password: string) =>
        service.request(method, path, {
          body: { ...body, password },
          headers: bearer(session.accessToken),
          sourceIp: address,
        });
      // A stranger's failures hold every check slot of the name: a login without a device waits...
      const stranger = freshAddress();
      for (let i = 0; i < MAX_FAILURES; i += 1) await loginFrom(stranger, name, WRONG);
      expect((await loginFrom(freshAddress(), name, DEFAULT_PASSWORD)).status).toBe(429);
      // ...but the owner's session re-enters the password at once.
      const right = await enter(tokens, DEFAULT_PASSWORD);
      expect([200, 204, 409], right.text).toContain(right.status);
      // Wrong passwords from this session lock this session alone, and count nothing for the name.
      for (let i = 0; i < MAX_FAILURES; i += 1) expect((await enter(tokens, WRONG)).status).toBe(401);
      const locked = await enter(tokens, DEFAULT_PASSWORD);
      expect(locked.status).toBe(429);
      expect(retryAfter(locked)).toBe(LOCKOUT_BASE);
      expect((await service.storedItem(`user#${name}`))?.hourCount).toBe(MAX_FAILURES);
      expect([200, 204, 409]).toContain((await enter(other, DEFAULT_PASSWORD)).status);
    },
  );
});
