import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  headerOf,
  startTestService,
  TEST_SIGNING_ALG,
  type TestService,
} from '../support/service.ts';

const MAX_FAILURES = 3;
const LOCKOUT_BASE = 30;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    LOGIN_MAX_FAILURES: String(MAX_FAILURES),
    LOGIN_LOCKOUT_BASE: String(LOCKOUT_BASE),
    LOGIN_LOCKOUT_MAX: '600',
  });
});
afterAll(() => service.close());
const clock = useFakeClock();

const register = (body: unknown) => service.post('/auth/register', body);

describe('POST /auth/register', () => {
  it('creates an account and answers 201 with its id, normalised username and (no) address', async () => {
    const response = await register({ username: '  Carol.Smith ', password: DEFAULT_PASSWORD });
    expect(response.status).toBe(201);
    expect(response.json).toEqual({
      userId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      username: 'carol.smith',
      email: null,
    });
  });

  it('treats usernames case-insensitively: a second "ALICE" is 409 username_taken', async () => {
    expect((await register({ username: 'alice', password: DEFAULT_PASSWORD })).status).toBe(201);
    const again = await register({ username: 'ALICE', password: 'another good passphrase' });
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('username_taken');
  });

  it('answers 400 weak_password for a short password', async () => {
    const response = await register({ username: 'weakling', password: 'short' });
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('weak_password');
  });

  it.each([
    ['a missing password', { username: 'someone' }],
    ['a numeric username', { username: 12345, password: DEFAULT_PASSWORD }],
    ['a username with spaces inside', { username: 'two words', password: DEFAULT_PASSWORD }],
    ['a two-letter username', { username: 'ab', password: DEFAULT_PASSWORD }],
    ['an array body', [1, 2]],
  ])('answers 400 invalid_request for %s', async (_name, body) => {
    const response = await register(body);
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });

  it('stores the password only as an argon2id hash', async () => {
    await register({ username: 'hashed-user', password: DEFAULT_PASSWORD });
    const item = await service.storedItem('user#hashed-user');
    expect(item?.passwordHash).toMatch(/^\$argon2id\$v=19\$/);
    expect(JSON.stringify(item)).not.toContain(DEFAULT_PASSWORD);
  });
});

describe('POST /auth/login', () => {
  it('answers 200 with both tokens, their lifetimes, a device token and Cache-Control: no-store', async () => {
    await register({ username: 'dave', password: DEFAULT_PASSWORD });
    const response = await service.login('Dave');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.json).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 600,
      refreshExpiresIn: 86400,
      deviceToken: expect.stringMatching(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/),
    });
    expect(headerOf(response.json.accessToken)).toMatchObject({ alg: TEST_SIGNING_ALG, typ: 'at+jwt' });
    expect(headerOf(response.json.refreshToken)).toMatchObject({ alg: TEST_SIGNING_ALG, typ: 'rt+jwt' });
    const access = claimsOf(response.json.accessToken);
    expect(access.token_use).toBe('access');
    expect(access.exp - access.iat).toBe(600);
  });

  it('starts a new session on each login, stored with a TTL attribute and a hash of its refresh token', async () => {
    await register({ username: 'erin', password: DEFAULT_PASSWORD });
    const first = await service.login('erin');
    const second = await service.login('erin');
    const sid = claimsOf(first.json.accessToken).sid;
    expect(sid).not.toBe(claimsOf(second.json.accessToken).sid);
    const item = await service.storedItem(`session#${sid}`);
    expect(item?.ttl).toBe(claimsOf(first.json.accessToken).auth_time + 2592000);
    expect(JSON.stringify(item)).not.toContain(first.json.refreshToken);
  });

  it('answers an unknown user and a wrong password with the same 401 body', async () => {
    await register({ username: 'frank', password: DEFAULT_PASSWORD });
    const wrongPassword = await service.login('frank', 'not the right password');
    const unknownUser = await service.login('nobody-here', 'not the right password');
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    expect(wrongPassword.json).toEqual({ error: 'invalid_credentials', message: expect.any(String) });
    expect(unknownUser.json).toEqual(wrongPassword.json);
  });

  it.each([
    ['a missing username', { password: 'x' }],
    ['a numeric password', { username: 'frank', password: 12345678 }],
  ])('answers 400 invalid_request for %s', async (_name, body) => {
    const response = await service.post('/auth/login', body);
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });
});

describe('brute-force protection', () => {
  it(`answers 429 too_many_attempts with Retry-After after ${MAX_FAILURES} failures, even for the right password`, async () => {
    await register({ username: 'grace', password: DEFAULT_PASSWORD });
    for (let i = 0; i < MAX_FAILURES; i += 1)
      expect((await service.login('grace', 'wrong password')).status).toBe(401);
    const locked = await service.login('grace');
    expect(locked.status).toBe(429);
    expect(locked.json.error).toBe('too_many_attempts');
    expect(Number(locked.headers.get('retry-after'))).toBe(LOCKOUT_BASE);
  });

  it('locks unknown usernames the same way, so a 429 reveals nothing about who exists', async () => {
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('ghost-user', 'wrong password');
    const locked = await service.login('ghost-user', 'wrong password');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBe(LOCKOUT_BASE);
  });

  it('lets the user in once the lock has passed, and grows the lock with further failures', async () => {
    await register({ username: 'heidi', password: DEFAULT_PASSWORD });
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('heidi', 'wrong password');
    clock.advance(LOCKOUT_BASE + 1);
    expect((await service.login('heidi', 'wrong again')).status).toBe(401);
    const longer = await service.login('heidi');
    expect(longer.status).toBe(429);
    expect(Number(longer.headers.get('retry-after'))).toBe(LOCKOUT_BASE * 2);
    clock.advance(LOCKOUT_BASE * 2 + 1);
    expect((await service.login('heidi')).status).toBe(200);
  });

  it('checks racing guesses one at a time once failures are on record, so a burst cannot outrun the lockout', async () => {
    await register({ username: 'racer', password: DEFAULT_PASSWORD });
    expect((await service.login('racer', 'first wrong guess')).status).toBe(401);
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => service.login('racer', `racing wrong guess ${i}`)),
    );
    const checked = burst.filter((response) => response.status === 401);
    const refused = burst.filter((response) => response.status === 429);
    // One failure was on record: at most MAX_FAILURES - 1 more passwords may be checked before the lock.
    expect(checked.length).toBeLessThanOrEqual(MAX_FAILURES - 1);
    expect(checked.length + refused.length).toBe(burst.length);
    for (const response of refused)
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await service.login('racer')).status).toBe(429);
  });

  it('never touches existing sessions of a locked account', async () => {
    const tokens = await service.signUp('ivan');
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('ivan', 'wrong password');
    expect((await service.login('ivan')).status).toBe(429);
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    expect((await service.post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(200);
  });

  it('clears the failure count after a successful login', async () => {
    await register({ username: 'judy', password: DEFAULT_PASSWORD });
    for (let i = 0; i < MAX_FAILURES - 1; i += 1) await service.login('judy', 'wrong password');
    expect((await service.login('judy')).status).toBe(200);
    for (let i = 0; i < MAX_FAILURES - 1; i += 1) await service.login('judy', 'wrong password');
    expect((await service.login('judy')).status).toBe(200);
  });

  it('registering a name that was locked while unknown does not leave a TTL on the account', async () => {
    for (let i = 0; i < MAX_FAILURES; i += 1) await service.login('late-comer', 'wrong password');
    expect((await service.storedItem('user#late-comer'))?.ttl).toBeTypeOf('number');
    expect((await register({ username: 'late-comer', password: DEFAULT_PASSWORD })).status).toBe(201);
    expect((await service.storedItem('user#late-comer'))?.ttl).toBeUndefined();
  });
});
