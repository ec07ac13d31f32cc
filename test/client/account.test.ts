import { AuthClient, AuthError, SignedOutError, type SignOutReason } from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const NEW_PASSWORD = 'a brand new passphrase';

/** A client of its own (its own memory storage), recording what it sends and why it signed out. */
function newClient() {
  const sent: { method: string; path: string; status: number }[] = [];
  const signedOut: SignOutReason[] = [];
  const client = new AuthClient({
    baseUrl: service.url,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      sent.push({
        method: init?.method ?? 'GET',
        path: new URL(String(input)).pathname,
        status: response.status,
      });
      return response;
    },
  });
  client.on('signedOut', ({ reason }) => signedOut.push(reason));
  return { client, sent, signedOut };
}

/** A user signed in on `devices` clients (one session each). */
async function devices(count: number) {
  const username = `sdk-holder-${++userCount}`;
  await service.post('/auth/register', { username, password: DEFAULT_PASSWORD });
  const clients = [];
  for (let i = 0; i < count; i += 1) {
    const device = newClient();
    await device.client.login(username, DEFAULT_PASSWORD);
    clients.push(device);
  }
  return { username, clients };
}

const sidOf = async (client: AuthClient) => claimsOf((await client.tokens())?.accessToken ?? '').sid;

describe('the client’s account and session management', () => {
  it('listSessions: the user’s sessions, newest first, this one marked current', async () => {
    const { clients } = await devices(2);
    const [laptop, phone] = clients as [ReturnType<typeof newClient>, ReturnType<typeof newClient>];
    const sessions = await phone.client.listSessions();
    expect(sessions.map((s) => s.sessionId)).toEqual([await sidOf(phone.client), await sidOf(laptop.client)]);
    expect(sessions.map((s) => s.current)).toEqual([true, false]);
    expect(sessions[0]).toMatchObject({ lastRefreshedAt: null, ipAddress: '127.0.0.1' });
  });

  it('revokeSession: another device is signed out at its next call; revoking this one signs this client out', async () => {
    const { clients } = await devices(2);
    const [laptop, phone] = clients as [ReturnType<typeof newClient>, ReturnType<typeof newClient>];
    await laptop.client.revokeSession(await sidOf(phone.client));
    expect((await laptop.client.listSessions()).map((s) => s.current)).toEqual([true]);
    await expect(phone.client.fetch('/me')).rejects.toBeInstanceOf(SignedOutError);
    expect(phone.signedOut).toEqual(['session_revoked']);

    await laptop.client.revokeSession(await sidOf(laptop.client));
    expect(laptop.signedOut).toEqual(['logged_out']);
    expect(await laptop.client.tokens()).toBeNull();
  });

  it('revokeSession of an id that is not the user’s is an AuthError not_found, and signs nobody out', async () => {
    const { clients } = await devices(1);
    const [laptop] = clients as [ReturnType<typeof newClient>];
    const error = await laptop.client.revokeSession('3f1c2a4e-8a53-4c1e-9a7e-2b7f0d9c6e11').catch((e) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('not_found');
    expect(laptop.signedOut).toEqual([]);
  });

  it('changePassword keeps this client signed in and signs the other devices out', async () => {
    const { username, clients } = await devices(2);
    const [laptop, phone] = clients as [ReturnType<typeof newClient>, ReturnType<typeof newClient>];
    await laptop.client.changePassword(DEFAULT_PASSWORD, NEW_PASSWORD);
    expect((await laptop.client.fetch('/me')).status).toBe(200);
    await expect(phone.client.fetch('/me')).rejects.toBeInstanceOf(SignedOutError);
    expect((await service.login(username, NEW_PASSWORD)).status).toBe(200);
  });

  it('a wrong current password is invalid_credentials, sent once (one failure counted), and keeps the session', async () => {
    const { username, clients } = await devices(1);
    const [laptop] = clients as [ReturnType<typeof newClient>];
    laptop.sent.length = 0;
    const error = await laptop.client.changePassword('not my password at all', NEW_PASSWORD).catch((e) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error.code).toBe('invalid_credentials');
    // A 401 about the password is not a 401 about the token: no refresh, no second send.
    expect(laptop.sent.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['POST /auth/password 401']);
    // Counted once, against this session's own count (a re-entry from a live session), not the name's.
    expect((await service.storedItem(`session#${await sidOf(laptop.client)}`))?.reauth?.f).toBe(1);
    expect((await service.storedItem(`user#${username}`))?.hourCount).toBeUndefined();
    expect(laptop.signedOut).toEqual([]);
    const weak = await laptop.client.changePassword(DEFAULT_PASSWORD, 'short').catch((e) => e);
    expect(weak.code).toBe('weak_password');
  });

  it('deleteAccount ends every session and signs this client out', async () => {
    const { username, clients } = await devices(2);
    const [laptop, phone] = clients as [ReturnType<typeof newClient>, ReturnType<typeof newClient>];
    await laptop.client.deleteAccount(DEFAULT_PASSWORD);
    expect(laptop.signedOut).toEqual(['account_deleted']);
    await expect(phone.client.fetch('/me')).rejects.toBeInstanceOf(SignedOutError);
    expect((await service.login(username)).status).toBe(401);
  });
});
