import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetSecondFactors, showUser } from '../../lib/operations/admin.ts';
import { defaultServices } from '../../lib/services.ts';
import { useFakeClock } from '../support/clock.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  startTestService,
  type TestService,
  type TokenPairBody,
} from '../support/service.ts';
import { codeNow, nextStepOf, otherThan } from '../support/totp.ts';

const MAX_FAILURES = 8;
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES) });
});
afterAll(() => service.close());
const clock = useFakeClock();

let names = 0;
const freshName = () => `mfa-login-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const nextStep = nextStepOf(clock);

/** A user with TOTP on: its name, secret, recovery codes and the step used to confirm. */
async function enrolled(username = freshName()) {
  const tokens = await service.signUp(username);
  const started = await service.post(
    '/auth/mfa/totp',
    { password: DEFAULT_PASSWORD },
    bearer(tokens.accessToken),
  );
  const secret = started.json.secret as string;
  const confirmCode = codeNow(secret);
  const confirmed = await service.post(
    '/auth/mfa/totp/confirm',
    { code: confirmCode },
    bearer(tokens.accessToken),
  );
  expect(confirmed.status).toBe(200);
  return { username, tokens, secret, confirmCode, recoveryCodes: confirmed.json.recoveryCodes as string[] };
}

async function mfaToken(username: string, sourceIp?: string): Promise<string> {
  const answer = await service.request('POST', '/auth/login', {
    body: { username, password: DEFAULT_PASSWORD },
    ...(sourceIp && { sourceIp }),
  });
  expect(answer.status, answer.text).toBe(401);
  expect(answer.json.error).toBe('mfa_required');
  return answer.json.mfaToken;
}

const complete = (body: Record<string, unknown>, sourceIp?: string) =>
  service.request('POST', '/auth/login/mfa', { body, ...(sourceIp && { sourceIp }) });

describe('POST /auth/login for an account with TOTP', () => {
  it('answers the right password 401 mfa_required with an mfaToken and the methods, and starts no session', async () => {
    const { username } = await enrolled();
    const before = (await service.storedItem(`user#${username}`))?.userId;
    const answer = await service.post('/auth/login', { username, password: DEFAULT_PASSWORD });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({
      error: 'mfa_required',
      message: expect.any(String),
      mfaToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      methods: ['totp', 'recovery_code'],
    });
    expect(answer.headers.get('www-authenticate')).toBeNull();
    expect(before).toBeDefined();
  });

  it('answers a wrong password exactly as for an account without a second factor', async () => {
    const { username } = await enrolled();
    const plain = freshName();
    await service.signUp(plain);
    const withMfa = await service.post('/auth/login', { username, password: 'wrong password' });
    const without = await service.post('/auth/login', { username: plain, password: 'wrong password' });
    expect(withMfa.status).toBe(401);
    expect(withMfa.json).toEqual(without.json);
    expect([...withMfa.headers.keys()].sort()).toEqual([...without.headers.keys()].sort());
  });

  it('holds no check slot for a right password answered mfa_required: the owner may sign in again at once, many times', async () => {
    const { username } = await enrolled();
    const slots = async () => {
      const item = (await service.storedItem(`user#${username}`)) ?? {};
      return Object.fromEntries(Object.entries(item).filter(([key]) => /^slot\d+$/.test(key)));
    };
    // (The sign-up's own password login left its lease to lapse, as a clean login does.)
    const before = await slots();
    for (let i = 0; i < MAX_FAILURES + 3; i += 1) await mfaToken(username);
    // Each check released its slot: nothing more is held than before, so the next check is never refused.
    expect(await slots()).toEqual(before);
  });
});

describe('POST /auth/login/mfa', () => {
  it('with the current code starts a session whose tokens say pwd, otp, mfa and the login time', async () => {
    const { username, secret } = await enrolled();
    nextStep();
    const token = await mfaToken(username);
    const answer = await complete({ mfaToken: token, code: codeNow(secret) });
    expect(answer.status, answer.text).toBe(200);
    const claims = claimsOf(answer.json.accessToken);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.auth_time).toBe(Math.floor(Date.now() / 1000));
    const me = await service.me(answer.json.accessToken);
    expect(me.json).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], authTime: claims.auth_time });
    const session = await service.storedItem(`session#${claims.sid}`);
    expect(session?.amr).toBe('pwd,otp,mfa');
    expect(
      (await service.request('GET', '/me/sensitive', { headers: bearer(answer.json.accessToken) })).status,
    ).toBe(200);
    // Used up: the same mfaToken completes nothing more.
    nextStep();
    const again = await complete({ mfaToken: token, code: codeNow(secret) });
    expect(again.status).toBe(401);
    expect(again.json.error).toBe('invalid_token');
  });

  it('refuses the code whose step confirmed the enrolment', async () => {
    const { username, confirmCode } = await enrolled();
    const token = await mfaToken(username);
    const answer = await complete({ mfaToken: token, code: confirmCode });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_mfa_code');
  });

  it('takes a recovery code once', async () => {
    const { username, recoveryCodes } = await enrolled();
    const [code = ''] = recoveryCodes;
    const first = await complete({ mfaToken: await mfaToken(username), recoveryCode: code.toUpperCase() });
    expect(first.status).toBe(200);
    expect(claimsOf(first.json.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    const second = await complete({ mfaToken: await mfaToken(username), recoveryCode: code });
    expect(second.json.error).toBe('invalid_mfa_code');
  });

  it('refuses an mfaToken after 300 seconds, and takes it up to then', async () => {
    const { username, secret } = await enrolled();
    const late = await mfaToken(username);
    const onTime = await mfaToken(username);
    clock.advance(299);
    expect((await complete({ mfaToken: onTime, code: codeNow(secret) })).status).toBe(200);
    clock.advance(2);
    nextStep();
    const answer = await complete({ mfaToken: late, code: codeNow(secret) });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_token');
  });

  it('kills an mfaToken after 5 wrong codes, and counts each toward the name lockout', async () => {
    const { username, secret } = await enrolled();
    const address = '203.0.113.77';
    nextStep();
    const token = await mfaToken(username, address);
    const right = codeNow(secret);
    for (let i = 0; i < 5; i += 1) {
      const wrong = await complete({ mfaToken: token, code: otherThan(right) }, address);
      expect(wrong.status).toBe(401);
      expect(wrong.json.error).toBe('invalid_mfa_code');
    }
    const item = await service.storedItem(`user#${username}`);
    expect(item?.pairs?.[address]?.f).toBe(5);
    expect(item?.hourCount).toBe(5);
    const killed = await complete({ mfaToken: token, code: right }, address);
    expect(killed.status).toBe(401);
    expect(killed.json.error).toBe('invalid_token');
    // The right code was not spent on the dead token: a fresh login takes it.
    const fresh = await complete({ mfaToken: await mfaToken(username), code: right });
    expect(fresh.status).toBe(200);
  });

  it('refuses an mfaToken whose password was changed since (the login would not survive the change)', async () => {
    const { username, tokens, recoveryCodes } = await enrolled();
    const token = await mfaToken(username);
    const changed = await service.post(
      '/auth/password',
      { currentPassword: DEFAULT_PASSWORD, newPassword: 'a brand new passphrase here' },
      bearer(tokens.accessToken),
    );
    expect(changed.status).toBe(204);
    const answer = await complete({ mfaToken: token, recoveryCode: recoveryCodes[0] });
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_token');
  });

  it('answers in the cookie transport like login: no refreshToken in the body, one HttpOnly cookie', async () => {
    const { username, recoveryCodes } = await enrolled();
    const browser = {
      host: 'localhost:3000',
      origin: 'http://localhost:3000',
      'x-token-transport': 'cookie',
    };
    const answer = await service.post(
      '/auth/login/mfa',
      { mfaToken: await mfaToken(username), recoveryCode: recoveryCodes[0] },
      browser,
    );
    expect(answer.status).toBe(200);
    expect(answer.json.refreshToken).toBeUndefined();
    const [cookie = ''] = answer.headers.getSetCookie();
    expect(cookie).toMatch(/HttpOnly/i);
    expect(claimsOf(/=([^;]+)/.exec(cookie)?.[1] ?? '').sid).toBe(claimsOf(answer.json.accessToken).sid);
  });

  it('answers 400 without a factor or with two, and 401 invalid_token for an unknown mfaToken', async () => {
    expect((await complete({ mfaToken: 'x' })).status).toBe(400);
    expect((await complete({ mfaToken: 'x', code: '123456', recoveryCode: 'abc' })).status).toBe(400);
    expect((await complete({ code: '123456' })).status).toBe(400);
    const unknown = await complete({ mfaToken: 'not-a-token', code: '123456' });
    expect(unknown.status).toBe(401);
    expect(unknown.json.error).toBe('invalid_token');
  });

  it('of concurrent completions with one code (each with its own mfaToken) exactly one succeeds', async () => {
    const { username, secret } = await enrolled();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), async (racers) => {
        nextStep();
        const tokens = await Promise.all(Array.from({ length: racers }, () => mfaToken(username)));
        const code = codeNow(secret);
        const answers = await Promise.all(tokens.map((token) => complete({ mfaToken: token, code })));
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
        for (const answer of answers.filter((a) => a.status !== 200))
          expect(answer.json.error).toBe('invalid_mfa_code');
      }),
      { numRuns: 6 },
    );
  });

  it('of concurrent completions with one recovery code exactly one succeeds', async () => {
    const { username, recoveryCodes } = await enrolled();
    let next = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 6 }), fc.boolean(), async (racers, sameToken) => {
        const code = recoveryCodes[next++] as string;
        const shared = await mfaToken(username);
        const tokens = await Promise.all(
          Array.from({ length: racers }, () => (sameToken ? shared : mfaToken(username))),
        );
        const answers = await Promise.all(
          tokens.map((token) => complete({ mfaToken: token, recoveryCode: code })),
        );
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
      }),
      { numRuns: 8 },
    );
  });
});

describe('one mfaToken, racing completions with different right factors', () => {
  it('complete exactly one login: the token is used up by a conditional write, whatever the interleaving', async () => {
    const { username, recoveryCodes } = await enrolled();
    let next = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), async (racers) => {
        const token = await mfaToken(username);
        const codes = recoveryCodes.slice(next, next + racers);
        next += racers;
        const answers = await Promise.all(
          codes.map((recoveryCode) => complete({ mfaToken: token, recoveryCode })),
        );
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
        for (const answer of answers.filter((a) => a.status !== 200))
          expect(answer.json.error).toBe('invalid_token');
      }),
      { numRuns: 3 },
    );
  });
});

describe('amr and auth_time over time', () => {
  it('a refresh keeps the login auth_time and amr', async () => {
    const { username, secret } = await enrolled();
    nextStep();
    const login = await complete({ mfaToken: await mfaToken(username), code: codeNow(secret) });
    const first = login.json as TokenPairBody;
    const loginTime = claimsOf(first.accessToken).auth_time;
    clock.advance(120);
    const refreshed = await service.post('/auth/refresh', { refreshToken: first.refreshToken });
    expect(refreshed.status).toBe(200);
    const claims = claimsOf(refreshed.json.accessToken);
    expect(claims.auth_time).toBe(loginTime);
    expect(claims.iat).toBe(loginTime + 120);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect((await service.me(refreshed.json.accessToken)).json).toMatchObject({
      authTime: loginTime,
      amr: ['pwd', 'otp', 'mfa'],
    });
    // A retry within the grace window gets the very same pair back, amr and all (opened from its sealed copy).
    const retried = await service.post('/auth/refresh', { refreshToken: first.refreshToken });
    expect(retried.json.accessToken).toBe(refreshed.json.accessToken);
    // And a password login's refresh stays a password login.
    const plain = await service.signUp(freshName());
    clock.advance(60);
    const plainRefreshed = await service.post('/auth/refresh', { refreshToken: plain.refreshToken });
    expect(claimsOf(plainRefreshed.json.accessToken).amr).toEqual(['pwd']);
    expect(claimsOf(plainRefreshed.json.accessToken).auth_time).toBe(claimsOf(plain.accessToken).auth_time);
  });

  it('/me/sensitive refuses an MFA login older than 900 seconds with max_age=900, and takes a fresh one', async () => {
    const { username, secret } = await enrolled();
    nextStep();
    const login = (await complete({ mfaToken: await mfaToken(username), code: codeNow(secret) }))
      .json as TokenPairBody;
    clock.advance(500);
    let tokens = (await service.post('/auth/refresh', { refreshToken: login.refreshToken }))
      .json as TokenPairBody;
    expect(
      (await service.request('GET', '/me/sensitive', { headers: bearer(tokens.accessToken) })).status,
    ).toBe(200);
    clock.advance(401);
    tokens = (await service.post('/auth/refresh', { refreshToken: tokens.refreshToken }))
      .json as TokenPairBody;
    expect((await service.me(tokens.accessToken)).status).toBe(200);
    const old = await service.request('GET', '/me/sensitive', { headers: bearer(tokens.accessToken) });
    expect(old.status).toBe(401);
    expect(old.headers.get('www-authenticate')).toMatch(
      /^Bearer error="insufficient_user_authentication", error_description="[^"]+", max_age=900$/,
    );
    nextStep();
    const again = (await complete({ mfaToken: await mfaToken(username), code: codeNow(secret) }))
      .json as TokenPairBody;
    expect(
      (await service.request('GET', '/me/sensitive', { headers: bearer(again.accessToken) })).status,
    ).toBe(200);
  });
});

describe('npm run admin -- mfa-reset', () => {
  it('removes TOTP and the recovery codes and revokes every session; the password alone then signs in', async () => {
    const { username, secret } = await enrolled();
    expect((await showUser(defaultServices(), username)).secondFactors).toEqual(['totp', 'recovery_code']);
    nextStep();
    const session = (await complete({ mfaToken: await mfaToken(username), code: codeNow(secret) }))
      .json as TokenPairBody;
    const userId = claimsOf(session.accessToken).sub as string;
    await defaultServices().passkeys.add(userId, username, {
      credentialId: 'lost-key',
      publicKey: new Uint8Array([1, 2, 3]),
      counter: 0,
      transports: [],
      name: 'a lost key',
      createdAt: Date.now(),
      backupEligible: false,
    });
    const shown = await resetSecondFactors(defaultServices(), username);
    expect((await defaultServices().passkeys.get(userId)).passkeys ?? []).toHaveLength(0);
    expect(shown.secondFactors).toEqual([]);
    expect((await service.me(session.accessToken)).status).toBe(401);
    expect((await service.post('/auth/refresh', { refreshToken: session.refreshToken })).json.error).toBe(
      'session_revoked',
    );
    const item = await service.storedItem(`user#${username}`);
    expect(item?.totpSecret).toBeUndefined();
    expect(item?.recoveryCodes).toBeUndefined();
    const login = await service.login(username);
    expect(login.status).toBe(200);
    expect(claimsOf(login.json.accessToken).amr).toEqual(['pwd']);
    await expect(resetSecondFactors(defaultServices(), 'nobody-here')).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
