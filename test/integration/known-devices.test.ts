import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser, enableUser } from '../../lib/operations/admin.ts';
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
        expect(checked).toBe(Math.min(burst, MAX_FAILURES));
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
