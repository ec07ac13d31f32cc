import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';
import { TestAuthenticator } from '../support/authenticator.ts';
import { useFakeClock } from '../support/clock.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

const ORIGIN = 'http://localhost:3000';
const MAX_FAILURES = 10;
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: String(MAX_FAILURES), WEBAUTHN_ORIGINS: ORIGIN });
});
afterAll(() => service.close());
const clock = useFakeClock();

let names = 0;
const freshName = () => `pk-2fa-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A user with one passkey (on a fresh authenticator): its name, tokens, authenticator and passkey id. */
async function withPasskey(options: { backupEligible?: boolean } = {}) {
  const username = freshName();
  const tokens = await service.signUp(username);
  const authenticator = new TestAuthenticator(ORIGIN);
  const creation = await service.post(
    '/auth/passkeys/register/options',
    { password: DEFAULT_PASSWORD },
    bearer(tokens.accessToken),
  );
  const registered = await service.post(
    '/auth/passkeys/register',
    { response: authenticator.register(creation.json, options), name: 'laptop' },
    bearer(tokens.accessToken),
  );
  expect(registered.status).toBe(201);
  return { username, tokens, authenticator, passkeyId: registered.json.passkeyId as string };
}

async function passwordLogin(username: string, sourceIp?: string) {
  return service.request('POST', '/auth/login', {
    body: { username, password: DEFAULT_PASSWORD },
    ...(sourceIp && { sourceIp }),
  });
}

async function mfaToken(username: string, sourceIp?: string): Promise<string> {
  const answer = await passwordLogin(username, sourceIp);
  expect(answer.status, answer.text).toBe(401);
  expect(answer.json.error).toBe('mfa_required');
  return answer.json.mfaToken;
}

const options = (token: string) => service.post('/auth/login/mfa/options', { mfaToken: token });
const complete = (body: Record<string, unknown>, sourceIp?: string) =>
  service.request('POST', '/auth/login/mfa', { body, ...(sourceIp && { sourceIp }) });

/** The second step with the authenticator's passkey: options for the mfaToken, then the assertion. */
async function passkeyStep(
  token: string,
  authenticator: TestAuthenticator,
  overrides: Parameters<TestAuthenticator['assert']>[1] = {},
  sourceIp?: string,
) {
  const offered = await options(token);
  expect(offered.status, offered.text).toBe(200);
  return complete({ mfaToken: token, passkey: authenticator.assert(offered.json, overrides) }, sourceIp);
}

describe('a password login of an account with a passkey', () => {
  it('answers mfa_required with passkey among the methods, after TOTP and recovery codes when they are on', async () => {
    const { username, tokens } = await withPasskey();
    const answer = await passwordLogin(username);
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: 'mfa_required', methods: ['passkey'] });

    const started = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    const code = totpCodeAt(started.json.secret, totpStepAt(Date.now()));
    await service.post('/auth/mfa/totp/confirm', { code }, bearer(tokens.accessToken));
    expect((await passwordLogin(username)).json.methods).toEqual(['totp', 'recovery_code', 'passkey']);
  });

  it('asks for nothing more once the passkey is deleted (the password alone signs in again)', async () => {
    const { username, tokens, passkeyId } = await withPasskey();
    const deleted = await service.request('DELETE', `/auth/passkeys/${encodeURIComponent(passkeyId)}`, {
      headers: bearer(tokens.accessToken),
    });
    expect(deleted.status).toBe(204);
    const answer = await passwordLogin(username);
    expect(answer.status, answer.text).toBe(200);
    expect(claimsOf(answer.json.accessToken).amr).toEqual(['pwd']);
  });

  it('starts no session before the second step, and a wrong password reveals nothing about the passkey', async () => {
    const { username } = await withPasskey();
    const plain = freshName();
    await service.signUp(plain);
    const withKey = await service.post('/auth/login', { username, password: 'not the password at all' });
    const without = await service.post('/auth/login', {
      username: plain,
      password: 'not the password at all',
    });
    expect(withKey.status).toBe(401);
    expect(withKey.json).toEqual(without.json);
  });
});

describe('POST /auth/login/mfa/options', () => {
  it("answers request options for the user's passkeys, user verification required, a fresh challenge", async () => {
    const { username, passkeyId } = await withPasskey();
    const offered = await options(await mfaToken(username));
    expect(offered.status).toBe(200);
    expect(offered.json.rpId).toBe('localhost');
    expect(offered.json.userVerification).toBe('required');
    expect(offered.json.allowCredentials.map((c: { id: string }) => c.id)).toEqual([passkeyId]);
    expect(offered.json.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses an unknown or used mfaToken (401 invalid_token), no mfaToken (400), and an account without a passkey (400)', async () => {
    expect((await options('not-a-token')).json.error).toBe('invalid_token');
    expect((await service.post('/auth/login/mfa/options', {})).status).toBe(400);
    const { username, authenticator } = await withPasskey();
    const token = await mfaToken(username);
    expect((await passkeyStep(token, authenticator)).status).toBe(200);
    expect((await options(token)).json.error).toBe('invalid_token');

    // TOTP only: no passkey to ask options for.
    const name = freshName();
    const tokens = await service.signUp(name);
    const started = await service.post(
      '/auth/mfa/totp',
      { password: DEFAULT_PASSWORD },
      bearer(tokens.accessToken),
    );
    await service.post(
      '/auth/mfa/totp/confirm',
      { code: totpCodeAt(started.json.secret, totpStepAt(Date.now())) },
      bearer(tokens.accessToken),
    );
    const refused = await options(await mfaToken(name));
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('invalid_request');
  });
});

describe('POST /auth/login/mfa with a passkey', () => {
  it('starts a session with amr pwd, hwk, user, mfa for a device-bound passkey, which passes /me/sensitive', async () => {
    const { username, authenticator } = await withPasskey();
    const answer = await passkeyStep(await mfaToken(username), authenticator);
    expect(answer.status, answer.text).toBe(200);
    const claims = claimsOf(answer.json.accessToken);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.auth_time).toBe(Math.floor(Date.now() / 1000));
    expect(
      (await service.request('GET', '/me/sensitive', { headers: bearer(answer.json.accessToken) })).status,
    ).toBe(200);
    const listed = await service.request('GET', '/auth/passkeys', {
      headers: bearer(answer.json.accessToken),
    });
    expect(listed.json.passkeys[0].lastUsedAt).not.toBeNull();
  });

  it('says swk for a synced (backup-eligible) passkey', async () => {
    const { username, authenticator } = await withPasskey({ backupEligible: true });
    const answer = await passkeyStep(await mfaToken(username), authenticator);
    expect(claimsOf(answer.json.accessToken).amr).toEqual(['pwd', 'swk', 'user', 'mfa']);
  });

  it("answers only the challenge issued for this mfaToken: another token's, a used one or none is 401 invalid_credentials", async () => {
    const { username, authenticator } = await withPasskey();
    const first = await mfaToken(username);
    const second = await mfaToken(username);
    const offered = await options(first);
    // The assertion for the first token's challenge, presented with the second token.
    const foreign = await complete({ mfaToken: second, passkey: authenticator.assert(offered.json) });
    expect(foreign.status).toBe(401);
    expect(foreign.json.error).toBe('invalid_credentials');
    // No options were asked for the second token at all.
    const fresh = await mfaToken(username);
    const none = await complete({ mfaToken: fresh, passkey: authenticator.assert(offered.json) });
    expect(none.json.error).toBe('invalid_credentials');
    // The first token's challenge works once...
    const used = authenticator.assert(offered.json);
    expect((await complete({ mfaToken: first, passkey: used })).status).toBe(200);
    // ...and an assertion of it is refused with any later token: it was taken.
    const replay = await mfaToken(username);
    await options(replay);
    expect((await complete({ mfaToken: replay, passkey: used })).json.error).toBe('invalid_credentials');
  });

  it('refuses a challenge older than 300 seconds', async () => {
    const { username, authenticator } = await withPasskey();
    const token = await mfaToken(username);
    const offered = await options(token);
    clock.advance(250);
    const again = await options(token); // replaces the pending challenge, from now
    clock.advance(60);
    // The first challenge was replaced; the second is 60 s old.
    expect((await complete({ mfaToken: token, passkey: authenticator.assert(offered.json) })).status).toBe(
      401,
    );
    const token2 = await mfaToken(username);
    const late = await options(token2);
    clock.advance(301);
    expect((await complete({ mfaToken: token2, passkey: authenticator.assert(late.json) })).status).toBe(401);
    expect(again.status).toBe(200);
  });

  it('refuses a counter that went backwards, a bad signature and no user verification, each counted toward the lockout', async () => {
    const { username, authenticator } = await withPasskey();
    const address = '203.0.113.91';
    expect((await passkeyStep(await mfaToken(username, address), authenticator, { counter: 9 })).status).toBe(
      200,
    );
    const refusals = [{ counter: 9 }, { counter: 4 }, { badSignature: true }, { userVerified: false }];
    // The password logins first: a right password clears the pair's count.
    const tokens = [];
    for (const _ of refusals) tokens.push(await mfaToken(username, address));
    for (const [i, overrides] of refusals.entries()) {
      const answer = await passkeyStep(
        tokens[i] as string,
        authenticator,
        { counter: 20, ...overrides },
        address,
      );
      expect(answer.status, JSON.stringify(overrides)).toBe(401);
      expect(answer.json.error).toBe('invalid_credentials');
    }
    const item = await service.storedItem(`user#${username}`);
    expect(item?.pairs?.[address]?.f).toBe(refusals.length);
    expect(
      (await passkeyStep(await mfaToken(username, address), authenticator, { counter: 21 })).status,
    ).toBe(200);
  });

  it("refuses another user's passkey", async () => {
    const { username } = await withPasskey();
    const other = await withPasskey();
    const answer = await passkeyStep(await mfaToken(username), other.authenticator);
    expect(answer.json.error).toBe('invalid_credentials');
  });

  it('kills the mfaToken after 5 refused passkeys', async () => {
    const { username, authenticator } = await withPasskey();
    const token = await mfaToken(username);
    for (let i = 0; i < 5; i += 1)
      expect((await passkeyStep(token, authenticator, { badSignature: true })).json.error).toBe(
        'invalid_credentials',
      );
    const offered = await options(token);
    expect(offered.json.error).toBe('invalid_token');
  });

  it('of racing completions with one challenge (one mfaToken or several), exactly one succeeds', async () => {
    const { username, authenticator } = await withPasskey();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 5 }), async (racers) => {
        const token = await mfaToken(username);
        const offered = await options(token);
        const assertions = Array.from({ length: racers }, () => authenticator.assert(offered.json));
        const answers = await Promise.all(
          assertions.map((passkey) => complete({ mfaToken: token, passkey })),
        );
        expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
        for (const answer of answers.filter((a) => a.status !== 200))
          expect(['invalid_credentials', 'invalid_token']).toContain(answer.json.error);
      }),
      { numRuns: 5 },
    );
  });

  it('never answers a malformed passkey response with a 5xx', async () => {
    const { username } = await withPasskey();
    const token = await mfaToken(username);
    await options(token);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.object(),
          fc.record({
            id: fc.string(),
            rawId: fc.string(),
            type: fc.constant('public-key'),
            response: fc.record({
              clientDataJSON: fc.base64String(),
              authenticatorData: fc.base64String(),
              signature: fc.base64String(),
            }),
          }),
        ),
        async (passkey) => {
          const answer = await complete({ mfaToken: token, passkey });
          expect(answer.status).toBeLessThan(500);
        },
      ),
      { numRuns: 25 },
    );
  });
});
