import { AuthClient, AuthError, type PasskeyCeremonies } from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestAuthenticator } from '../support/authenticator.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  type HttpTestService,
  startHttpTestService,
} from '../support/service.ts';

let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

let userCount = 0;

/** `@simplewebauthn/browser`'s two ceremonies, played by a software authenticator on the server's page origin. */
function ceremoniesOf(authenticator: TestAuthenticator): PasskeyCeremonies {
  return {
    startRegistration: async ({ optionsJSON }) => authenticator.register(optionsJSON),
    startAuthentication: async ({ optionsJSON }) => authenticator.assert(optionsJSON),
  };
}

/** The page origin passkeys are accepted from: the server's, under the name `localhost`. */
const pageOrigin = () => service.url.replace('127.0.0.1', 'localhost');

async function signedInClient(passkeys?: PasskeyCeremonies) {
  const username = `passkey-client-${++userCount}`;
  const client = new AuthClient({ baseUrl: service.url, ...(passkeys && { passkeys }) });
  await client.register(username, DEFAULT_PASSWORD);
  await client.login(username, DEFAULT_PASSWORD);
  return { client, username };
}

describe('the client with passkeys', () => {
  it('adds a passkey, signs in with it after a logout, renames, lists and deletes it', async () => {
    const authenticator = new TestAuthenticator(pageOrigin());
    const { client } = await signedInClient(ceremoniesOf(authenticator));
    const userId = claimsOf((await client.tokens())?.accessToken ?? '').sub;
    const added = await client.addPasskey(DEFAULT_PASSWORD, 'test key');
    expect(added).toMatchObject({ name: 'test key', lastUsedAt: null });

    await client.logout();
    const signedIn: unknown[] = [];
    client.on('signedIn', (event) => signedIn.push(event));
    await client.loginWithPasskey();
    expect(signedIn).toHaveLength(1);
    expect(claimsOf((await client.tokens())?.accessToken ?? '').sub).toBe(userId);
    expect((await client.fetch('/me')).status).toBe(200);

    expect((await client.renamePasskey(added.passkeyId, 'renamed')).name).toBe('renamed');
    const [listed] = await client.listPasskeys();
    expect(listed).toMatchObject({
      passkeyId: added.passkeyId,
      name: 'renamed',
      lastUsedAt: expect.any(String),
    });
    await client.deletePasskey(added.passkeyId);
    expect(await client.listPasskeys()).toEqual([]);
  });

  it('reports a wrong password for a new passkey as invalid_credentials, and a refused passkey likewise', async () => {
    const authenticator = new TestAuthenticator(pageOrigin());
    const { client } = await signedInClient(ceremoniesOf(authenticator));
    await expect(client.addPasskey('not the password at all')).rejects.toMatchObject({
      code: 'invalid_credentials',
    });
    await client.addPasskey(DEFAULT_PASSWORD);
    await client.logout();
    const forger = new AuthClient({
      baseUrl: service.url,
      passkeys: {
        ...ceremoniesOf(authenticator),
        startAuthentication: async ({ optionsJSON }) =>
          authenticator.assert(optionsJSON, { badSignature: true }),
      },
    });
    await expect(forger.loginWithPasskey()).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(await forger.tokens()).toBeNull();
  });

  it('completes a password login with the passkey as the second factor; a refused one leaves the login pending', async () => {
    const authenticator = new TestAuthenticator(pageOrigin());
    const { client, username } = await signedInClient(ceremoniesOf(authenticator));
    await client.addPasskey(DEFAULT_PASSWORD);
    await client.logout();

    let refuse = true;
    const second = new AuthClient({
      baseUrl: service.url,
      passkeys: {
        ...ceremoniesOf(authenticator),
        startAuthentication: async ({ optionsJSON }) =>
          authenticator.assert(optionsJSON, { badSignature: refuse }),
      },
    });
    expect(await second.login(username, DEFAULT_PASSWORD)).toEqual({
      status: 'mfa_required',
      methods: ['passkey'],
    });
    await expect(second.completeMfaWithPasskey()).rejects.toMatchObject({ code: 'invalid_credentials' });
    expect(second.pendingSecondFactors).toEqual(['passkey']);
    refuse = false;
    await second.completeMfaWithPasskey();
    expect(second.pendingSecondFactors).toEqual([]);
    expect(claimsOf((await second.tokens())?.accessToken ?? '').amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect((await second.fetch('/me/sensitive')).status).toBe(200);
  });

  it('says passkeys_unavailable without the ceremonies, and passkey_ceremony_failed when the user cancels', async () => {
    const { client } = await signedInClient();
    await expect(client.addPasskey(DEFAULT_PASSWORD)).rejects.toMatchObject({ code: 'passkeys_unavailable' });
    const cancelling = new AuthClient({
      baseUrl: service.url,
      passkeys: {
        startRegistration: () =>
          Promise.reject(new DOMException('The operation was cancelled.', 'NotAllowedError')),
        startAuthentication: () =>
          Promise.reject(new DOMException('The operation was cancelled.', 'NotAllowedError')),
      },
    });
    const failure = await cancelling.loginWithPasskey().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthError);
    expect(failure).toMatchObject({ code: 'passkey_ceremony_failed' });
    expect((failure as AuthError).message).toContain('NotAllowedError');
  });
});
