import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableUser } from '../../lib/operations/admin.ts';
import { defaultServices } from '../../lib/services.ts';
import { TestAuthenticator } from '../support/authenticator.ts';
import { useFakeClock } from '../support/clock.ts';
import { claimsOf, DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

const ORIGIN = 'http://localhost:3000';
let service: TestService;
beforeAll(async () => {
  service = await startTestService({ LOGIN_MAX_FAILURES: '3', WEBAUTHN_ORIGINS: ORIGIN });
});
afterAll(() => service.close());
const clock = useFakeClock();

let userCount = 0;
const nextName = () => `keyholder-${++userCount}`;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const registrationOptions = (accessToken: string, password = DEFAULT_PASSWORD) =>
  service.post('/auth/passkeys/register/options', { password }, bearer(accessToken));
const registerResponse = (accessToken: string, body: unknown) =>
  service.post('/auth/passkeys/register', body, bearer(accessToken));
const listPasskeys = (accessToken: string) =>
  service.request('GET', '/auth/passkeys', { headers: bearer(accessToken) });
const deletePasskey = (accessToken: string, passkeyId: string) =>
  service.request('DELETE', `/auth/passkeys/${encodeURIComponent(passkeyId)}`, {
    headers: bearer(accessToken),
  });
const loginOptions = () => service.post('/auth/passkeys/login/options', {});
const passkeyLogin = (body: unknown, sourceIp?: string) =>
  service.request('POST', '/auth/passkeys/login', { body, ...(sourceIp && { sourceIp }) });

/** A new user with one passkey on a fresh authenticator: its tokens, the authenticator and the passkey's id. */
async function enrolled(options: { backupEligible?: boolean; keepsCounter?: boolean } = {}) {
  const name = nextName();
  const tokens = await service.signUp(name);
  const authenticator = new TestAuthenticator(ORIGIN);
  const creation = await registrationOptions(tokens.accessToken);
  expect(creation.status).toBe(200);
  const registered = await registerResponse(tokens.accessToken, {
    response: authenticator.register(creation.json, options),
    name: 'laptop',
  });
  expect(registered.status).toBe(201);
  return { name, tokens, authenticator, passkeyId: registered.json.passkeyId as string };
}

/** A full passwordless sign-in with the authenticator's newest credential (or as overridden). */
async function signInWith(
  authenticator: TestAuthenticator,
  overrides: Parameters<TestAuthenticator['assert']>[1] = {},
) {
  const options = (await loginOptions()).json;
  return passkeyLogin({
    challengeId: options.challengeId,
    response: authenticator.assert(options, overrides),
  });
}

describe('passkey registration', () => {
  it('offers creation options with resident key preferred, user verification required, no attestation, and existing credentials excluded', async () => {
    const { tokens, passkeyId } = await enrolled();
    const creation = await registrationOptions(tokens.accessToken);
    expect(creation.status).toBe(200);
    expect(creation.json.rp).toEqual({ id: 'localhost', name: 'auth-service' });
    expect(creation.json.authenticatorSelection).toMatchObject({
      residentKey: 'preferred',
      userVerification: 'required',
    });
    expect(creation.json.attestation).toBe('none');
    expect(creation.json.excludeCredentials.map((c: any) => c.id)).toEqual([passkeyId]);
    expect(creation.json.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(creation.json.user.id).toBe(Buffer.from(claimsOf(tokens.accessToken).sub).toString('base64url'));
  });

  it('stores the passkey: 201 with its id, name and time, and lists it without its key', async () => {
    const { tokens, passkeyId } = await enrolled();
    const listed = await listPasskeys(tokens.accessToken);
    expect(listed.status).toBe(200);
    expect(listed.json.passkeys).toEqual([
      { passkeyId, name: 'laptop', createdAt: expect.any(String), lastUsedAt: null },
    ]);
  });

  it('needs the right password for the options; wrong ones count against the calling session alone (API.md "Known devices")', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    for (let i = 0; i < 3; i += 1)
      expect((await registrationOptions(tokens.accessToken, 'not the password at all')).json.error).toBe(
        'invalid_credentials',
      );
    expect((await registrationOptions(tokens.accessToken)).status).toBe(429);
    // The name is not held: the owner logs in, and the new session asks for options at once.
    const other = await service.login(name);
    expect(other.status).toBe(200);
    expect((await registrationOptions(other.json.accessToken)).status).toBe(200);
  });

  it('uses a registration challenge once: the same response again is 401', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    const authenticator = new TestAuthenticator(ORIGIN);
    const response = authenticator.register((await registrationOptions(tokens.accessToken)).json);
    expect((await registerResponse(tokens.accessToken, { response })).status).toBe(201);
    const again = await registerResponse(tokens.accessToken, { response });
    expect(again.status).toBe(401);
    expect(again.json.error).toBe('invalid_credentials');
  });

  it('refuses a response from a foreign origin, without user verification, or for another RP ID', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    const authenticator = new TestAuthenticator(ORIGIN);
    for (const overrides of [
      { origin: 'https://evil.example' },
      { userVerified: false },
      { rpId: 'evil.example' },
    ]) {
      const creation = (await registrationOptions(tokens.accessToken)).json;
      const refused = await registerResponse(tokens.accessToken, {
        response: authenticator.register(creation, overrides),
      });
      expect(refused.status).toBe(401);
      expect(refused.json.error).toBe('invalid_credentials');
    }
    expect((await listPasskeys(tokens.accessToken)).json.passkeys).toEqual([]);
  });

  it('refuses a registration with no options asked for by this session', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    const other = (await service.login(name)).json;
    const authenticator = new TestAuthenticator(ORIGIN);
    // Options asked by the other session: this session has none pending.
    const creation = (await registrationOptions(other.accessToken)).json;
    const refused = await registerResponse(tokens.accessToken, {
      response: authenticator.register(creation),
    });
    expect(refused.status).toBe(401);
  });

  it('refuses a challenge older than 300 seconds', async () => {
    const name = nextName();
    const tokens = await service.signUp(name);
    const creation = (await registrationOptions(tokens.accessToken)).json;
    clock.advance(301);
    const response = new TestAuthenticator(ORIGIN).register(creation);
    const refreshed = (await service.login(name)).json;
    expect((await registerResponse(refreshed.accessToken, { response })).status).toBe(401);
  });

  it('refuses a bad name and a body without a response object with 400', async () => {
    const { tokens, authenticator } = await enrolled();
    const creation = (await registrationOptions(tokens.accessToken)).json;
    for (const body of [
      { response: authenticator.register(creation), name: '' },
      { response: authenticator.register(creation), name: 'x'.repeat(65) },
      { response: 'not an object' },
      { name: 'no response' },
    ]) {
      expect((await registerResponse(tokens.accessToken, body)).status).toBe(400);
    }
  });
});

describe('passkey sign-in', () => {
  it('signs in with no password: a session of the user, its passkey marked used', async () => {
    const { name, tokens, authenticator, passkeyId } = await enrolled();
    const signedIn = await signInWith(authenticator);
    expect(signedIn.status).toBe(200);
    expect(signedIn.json).toMatchObject({ tokenType: 'Bearer', expiresIn: 600, refreshExpiresIn: 86400 });
    expect(signedIn.headers.get('cache-control')).toBe('no-store');
    expect(claimsOf(signedIn.json.accessToken).sub).toBe(claimsOf(tokens.accessToken).sub);
    const me = await service.me(signedIn.json.accessToken);
    expect(me.status).toBe(200);
    expect(me.json.username).toBe(name);
    const [listed] = (await listPasskeys(signedIn.json.accessToken)).json.passkeys;
    expect(listed.passkeyId).toBe(passkeyId);
    expect(listed.lastUsedAt).toEqual(expect.any(String));
    expect((await service.post('/auth/refresh', { refreshToken: signedIn.json.refreshToken })).status).toBe(
      200,
    );
  });

  it('answers a device token: the one presented when it is a known device of the user, else a new one (API.md "Known devices")', async () => {
    const { tokens, authenticator } = await enrolled();
    const first = await signInWith(authenticator);
    expect(first.json.deviceToken).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    expect(first.json.deviceToken).not.toBe(tokens.deviceToken);
    const known = tokens.deviceToken as string;
    const options = (await loginOptions()).json;
    const again = await passkeyLogin({
      challengeId: options.challengeId,
      response: authenticator.assert(options),
      deviceToken: known,
    });
    expect(again.status).toBe(200);
    expect(again.json.deviceToken).toBe(known);
    // Another user's token is no device of this one: a new token.
    const stranger = await service.signUp(nextName());
    const more = (await loginOptions()).json;
    const foreign = await passkeyLogin({
      challengeId: more.challengeId,
      response: authenticator.assert(more),
      deviceToken: stranger.deviceToken,
    });
    expect(foreign.status).toBe(200);
    expect([known, stranger.deviceToken]).not.toContain(foreign.json.deviceToken);
  });

  it('answers login options for a discoverable credential with a challenge id', async () => {
    const options = await loginOptions();
    expect(options.status).toBe(200);
    expect(options.json).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
    expect(options.json.allowCredentials ?? []).toEqual([]);
    expect(options.json.challengeId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(options.json.challenge).not.toBe((await loginOptions()).json.challenge);
  });

  it('uses a sign-in challenge once: of concurrent sign-ins with it exactly one succeeds', async () => {
    await fc.assert(
      // At most 3 racers on a fresh user each: the losers' failures then leave the winner a check slot.
      fc.asyncProperty(fc.integer({ min: 2, max: 3 }), async (racers) => {
        const { authenticator } = await enrolled();
        const options = (await loginOptions()).json;
        const answers = await Promise.all(
          Array.from({ length: racers }, () =>
            passkeyLogin({ challengeId: options.challengeId, response: authenticator.assert(options) }),
          ),
        );
        expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
        // The others presented a used challenge: a failure like any other.
        for (const answer of answers.filter((a) => a.status !== 200))
          expect(answer.json.error).toBe('invalid_credentials');
      }),
      { numRuns: 5 },
    );
  });

  it('refuses an expired challenge', async () => {
    const { authenticator } = await enrolled();
    const options = (await loginOptions()).json;
    clock.advance(301);
    const refused = await passkeyLogin({
      challengeId: options.challengeId,
      response: authenticator.assert(options),
    });
    expect(refused.status).toBe(401);
  });

  it('refuses a signature counter that went backwards (a cloned authenticator)', async () => {
    const { authenticator } = await enrolled();
    expect((await signInWith(authenticator, { counter: 7 })).status).toBe(200);
    for (const counter of [7, 6])
      expect((await signInWith(authenticator, { counter })).json.error).toBe('invalid_credentials');
    expect((await signInWith(authenticator, { counter: 8 })).status).toBe(200);
  });

  it('accepts an authenticator that keeps no counter (always 0), and then refuses a 0 after a counter', async () => {
    const { authenticator } = await enrolled({ keepsCounter: false });
    expect((await signInWith(authenticator)).status).toBe(200);
    expect((await signInWith(authenticator)).status).toBe(200);
    expect((await signInWith(authenticator, { counter: 3 })).status).toBe(200);
    expect((await signInWith(authenticator, { counter: 0 })).status).toBe(401);
  });

  it('refuses a foreign origin, a bad signature, no user verification and another RP ID', async () => {
    for (const overrides of [
      { origin: 'https://evil.example' },
      { badSignature: true },
      { userVerified: false },
      { rpId: 'evil.example' },
    ]) {
      // A user each: three failures lock the name (LOGIN_MAX_FAILURES is 3 here).
      const { authenticator } = await enrolled();
      expect((await signInWith(authenticator, { ...overrides, counter: 5 })).status).toBe(401);
      const refused = await signInWith(authenticator, overrides);
      expect(refused.status).toBe(401);
      expect(refused.json.error).toBe('invalid_credentials');
    }
  });

  it("refuses another user's credential presented under a user's handle, and an unknown handle", async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    const aliceHandle = alice.authenticator.credentials[0]?.userHandle;
    expect((await signInWith(bob.authenticator, { userHandle: aliceHandle })).status).toBe(401);
    expect((await signInWith(bob.authenticator, { userHandle: null })).status).toBe(401);
    expect(
      (await signInWith(bob.authenticator, { userHandle: Buffer.from('nobody').toString('base64url') }))
        .status,
    ).toBe(401);
  });

  it('refuses a deleted passkey', async () => {
    const { tokens, authenticator, passkeyId } = await enrolled();
    expect((await deletePasskey(tokens.accessToken, passkeyId)).status).toBe(204);
    expect((await signInWith(authenticator)).status).toBe(401);
    expect((await listPasskeys(tokens.accessToken)).json.passkeys).toEqual([]);
  });

  it("counts failures toward the lockout of the credential's user", async () => {
    const { name, authenticator } = await enrolled();
    for (let i = 0; i < 3; i += 1)
      expect((await signInWith(authenticator, { badSignature: true })).status).toBe(401);
    expect((await service.login(name)).status).toBe(429);
    expect((await signInWith(authenticator)).status).toBe(429);
  });

  it('answers 403 account_disabled for a valid passkey of a disabled account', async () => {
    const { name, authenticator } = await enrolled();
    await disableUser(defaultServices(), name);
    expect((await signInWith(authenticator)).json.error).toBe('account_disabled');
    expect((await signInWith(authenticator, { badSignature: true })).json.error).toBe('invalid_credentials');
  });

  it('refuses an unknown challenge id and a body without one with the usual answers', async () => {
    const { authenticator } = await enrolled();
    const options = (await loginOptions()).json;
    const response = authenticator.assert(options);
    expect((await passkeyLogin({ challengeId: 'nope', response })).status).toBe(401);
    expect((await passkeyLogin({ response })).status).toBe(400);
    expect((await passkeyLogin({ challengeId: options.challengeId })).status).toBe(400);
  });
});

describe('passkey management', () => {
  it("deletes only the caller's own passkeys: another user's id is 404 and stays", async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    const refused = await deletePasskey(alice.tokens.accessToken, bob.passkeyId);
    expect(refused.status).toBe(404);
    expect(refused.json.error).toBe('not_found');
    expect((await deletePasskey(alice.tokens.accessToken, 'no-such-id')).status).toBe(404);
    expect((await listPasskeys(bob.tokens.accessToken)).json.passkeys).toHaveLength(1);
    expect((await signInWith(bob.authenticator)).status).toBe(200);
  });

  it("renames the caller's passkey; another user's id is 404", async () => {
    const alice = await enrolled();
    const bob = await enrolled();
    const renamed = await service.request('PATCH', `/auth/passkeys/${alice.passkeyId}`, {
      body: { name: '  phone ' },
      headers: bearer(alice.tokens.accessToken),
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json).toMatchObject({ passkeyId: alice.passkeyId, name: 'phone' });
    const foreign = await service.request('PATCH', `/auth/passkeys/${bob.passkeyId}`, {
      body: { name: 'mine now' },
      headers: bearer(alice.tokens.accessToken),
    });
    expect(foreign.status).toBe(404);
    expect((await listPasskeys(bob.tokens.accessToken)).json.passkeys[0].name).toBe('laptop');
  });

  it('deletes the passkeys with the account: they sign no one in afterwards', async () => {
    const { tokens, authenticator } = await enrolled();
    const userId = claimsOf(tokens.accessToken).sub;
    const deleted = await service.request('DELETE', '/auth/account', {
      body: { password: DEFAULT_PASSWORD },
      headers: bearer(tokens.accessToken),
    });
    expect(deleted.status).toBe(204);
    expect(await service.storedItem(`passkeys#${userId}`)).toBeUndefined();
    expect((await signInWith(authenticator)).status).toBe(401);
  });

  it('needs a live session for every management route', async () => {
    const { tokens, passkeyId } = await enrolled();
    await service.post('/auth/logout', undefined, bearer(tokens.accessToken));
    expect((await listPasskeys(tokens.accessToken)).status).toBe(401);
    expect((await deletePasskey(tokens.accessToken, passkeyId)).status).toBe(401);
    expect((await registrationOptions(tokens.accessToken)).status).toBe(401);
  });
});

describe('malformed responses', () => {
  /** Replaces the value at a random path of a valid response with arbitrary JSON. */
  const mutated = (valid: any, path: readonly string[], value: unknown) => {
    const copy = structuredClone(valid);
    let target = copy;
    for (const key of path.slice(0, -1)) {
      if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
      target = target[key];
    }
    target[path.at(-1) as string] = value;
    return copy;
  };
  const paths = fc.constantFrom(
    ['id'],
    ['rawId'],
    ['type'],
    ['response'],
    ['response', 'clientDataJSON'],
    ['response', 'authenticatorData'],
    ['response', 'signature'],
    ['response', 'userHandle'],
    ['response', 'attestationObject'],
    ['response', 'transports'],
    ['clientExtensionResults'],
  );
  const junk = fc.oneof(
    fc.jsonValue(),
    fc.base64String(),
    fc.string(),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('base64url')),
  );

  // A user and an address each run, so that no lock stops a response before the verifier sees it.
  it('no malformed sign-in response is ever answered with a 5xx', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(paths, junk, fc.boolean(), async (path, value, whole) => {
        run += 1;
        const { authenticator } = await enrolled();
        const options = (await loginOptions()).json;
        const valid = authenticator.assert(options);
        const response = whole ? value : mutated(valid, path, value);
        const answer = await passkeyLogin(
          { challengeId: options.challengeId, response },
          `198.51.100.${run}`,
        );
        expect(answer.status).toBeLessThan(500);
        // 200 only where the mutation left what is verified intact (a field a sign-in ignores).
        expect([200, 400, 401]).toContain(answer.status);
      }),
      { numRuns: 60 },
    );
  });

  it('no malformed registration response is ever answered with a 5xx', async () => {
    const { tokens, authenticator } = await enrolled();
    await fc.assert(
      fc.asyncProperty(paths, junk, fc.boolean(), async (path, value, whole) => {
        const creation = (await registrationOptions(tokens.accessToken)).json;
        const valid = authenticator.register(creation);
        const response = whole ? value : mutated(valid, path, value);
        const answer = await registerResponse(tokens.accessToken, { response });
        expect(answer.status).toBeLessThan(500);
      }),
      { numRuns: 40 },
    );
  });
});
