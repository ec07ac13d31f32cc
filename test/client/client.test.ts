import {
  type ApiErrorCode,
  AuthClient,
  AuthError,
  isApiErrorCode,
  memoryStorage,
  SignedOutError,
  type SignOutReason,
  type StoredTokens,
  type TokenStorage,
} from '@lambda-token-auth/client';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { type ErrorCode, errorCatalogue } from '../../lib/errors.ts';
import { useFakeClock } from '../support/clock.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  type HttpTestService,
  startHttpTestService,
} from '../support/service.ts';

// Access tokens live 2 s, and the clock is fake (`Date` only: I/O and timers stay real): the service runs in this
// process, so stepping the clock past a token's `exp` expires it for the service and the client alike, at once.
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService({ ACCESS_TOKEN_TTL: '2' });
});
afterAll(() => service.close());
const clock = useFakeClock();

interface SentRequest {
  method: string;
  path: string;
  status: number;
  body: any;
}

/**
 * A `fetch` that records every request the client sends to the service and the status it got back: the
 * client has no other way to reach the service, so this is what the service received.
 */
function recordingFetch(options: { holdRefreshesUntil?: number } = {}) {
  const sent: SentRequest[] = [];
  let heldRefreshes = 0;
  let release: () => void = () => {};
  const barrier = new Promise<void>((resolve) => {
    release = resolve;
  });
  const recording: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    if (path === '/auth/refresh' && options.holdRefreshesUntil !== undefined) {
      // Lets refreshes from several clients leave together, so that they race at the service.
      heldRefreshes += 1;
      if (heldRefreshes >= options.holdRefreshesUntil) release();
      await barrier;
    }
    const response = await fetch(input, init);
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    sent.push({ method: init?.method ?? 'GET', path, status: response.status, body });
    return response;
  };
  return {
    fetch: recording,
    sent,
    refreshes: () => sent.filter((request) => request.path === '/auth/refresh'),
  };
}

/**
 * Steps the clock until the access token has expired for both sides: for the service (its `exp` second has
 * begun) and for the client (the instant it counted from `expiresIn`).
 */
async function untilExpired(tokens: StoredTokens): Promise<void> {
  const { exp } = claimsOf(tokens.accessToken);
  const expiredAt = Math.max(exp * 1000, tokens.accessExpiresAt);
  if (Date.now() < expiredAt) clock.advance((expiredAt - Date.now()) / 1000);
}

/** Lets other work run for a few turns of the event loop (not a wall-clock wait). */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

let users = 0;
async function signedInClient(
  options: { storage?: TokenStorage; fetch?: typeof fetch; now?: () => number } = {},
): Promise<{ client: AuthClient; username: string }> {
  users += 1;
  const username = `client-user-${users}`;
  const client = new AuthClient({ baseUrl: service.url, ...options });
  await client.register(username, DEFAULT_PASSWORD);
  await client.login(username, DEFAULT_PASSWORD);
  return { client, username };
}

async function storedTokens(client: AuthClient) {
  const tokens = await client.tokens();
  if (!tokens) throw new Error('expected the client to hold tokens');
  return tokens;
}

describe('the client against the local service', () => {
  it('sends exactly one refresh, with both tokens, for ten concurrent calls made with an expired access token', async () => {
    const recorder = recordingFetch();
    const { client, username } = await signedInClient({ fetch: recorder.fetch });
    const before = await storedTokens(client);
    await untilExpired(before);
    expect((await service.me(before.accessToken)).status).toBe(401);

    const responses = await Promise.all(Array.from({ length: 10 }, () => client.fetch('/me')));

    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    for (const response of responses) expect((await response.json()).username).toBe(username);
    const refreshes = recorder.refreshes();
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.status).toBe(200);
    expect(refreshes[0]?.body).toEqual({
      refreshToken: before.refreshToken,
      accessToken: before.accessToken,
    });
  });

  it('shares one reactive refresh among ten concurrent calls that the API answers 401', async () => {
    // A stopped clock: the client believes its access token fresh, so only the API's 401 reveals expiry.
    const stopped = Date.now();
    const recorder = recordingFetch();
    const { client } = await signedInClient({ fetch: recorder.fetch, now: () => stopped });
    await untilExpired(await storedTokens(client));

    const responses = await Promise.all(Array.from({ length: 10 }, () => client.fetch('/me')));

    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(recorder.sent.filter((r) => r.path === '/me' && r.status === 401)).toHaveLength(10);
    expect(recorder.refreshes()).toHaveLength(1);
  });

  it('converges on one pair when two clients on one storage race their refreshes at the service', async () => {
    // Two clients on one storage and without Web Locks (memory storage has no lock name): two tabs whose
    // refreshes race at the service, as in a browser without the Web Locks API.
    const storage = memoryStorage();
    const recorder = recordingFetch({ holdRefreshesUntil: 2 });
    const { client: first } = await signedInClient({ storage, fetch: recorder.fetch });
    const second = new AuthClient({ baseUrl: service.url, storage, fetch: recorder.fetch });
    await untilExpired(await storedTokens(first));

    const [a, b] = await Promise.all([first.fetch('/me'), second.fetch('/me')]);

    expect([a.status, b.status]).toEqual([200, 200]);
    // Both racers presented the same token and both got the one pair its rotation issued.
    const refreshes = recorder.refreshes();
    expect(refreshes.map((request) => request.status)).toEqual([200, 200]);
    expect(refreshes[0]?.body.refreshToken).toBe(refreshes[1]?.body.refreshToken);
    // The session survived: no reuse revocation, and the stored pair keeps working.
    const sid = claimsOf((await storedTokens(first)).accessToken).sid;
    expect((await service.storedItem(`session#${sid}`))?.revoked).not.toBe(true);
    expect((await first.fetch('/me')).status).toBe(200);
    expect((await second.fetch('/me')).status).toBe(200);
  });

  it('sends one refresh between two clients whose shared storage names a Web Lock', async () => {
    // Two tabs sharing localStorage, in Node: Node 24 has navigator.locks, as browsers do.
    const shared = memoryStorage();
    const storage: TokenStorage = {
      get: () => shared.get(),
      set: (tokens) => shared.set(tokens),
      clear: () => shared.clear(),
      lockName: `client-test-lock-${users}`,
    };
    const recorder = recordingFetch();
    const { client: first } = await signedInClient({ storage, fetch: recorder.fetch });
    const second = new AuthClient({ baseUrl: service.url, storage, fetch: recorder.fetch });
    await untilExpired(await storedTokens(first));

    const responses = await Promise.all(
      Array.from({ length: 5 }, () => [first.fetch('/me'), second.fetch('/me')]).flat(),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(recorder.refreshes().map((request) => request.status)).toEqual([200]);
  });

  it('leaves no tokens behind when logout comes while a refresh is in flight', async () => {
    // The refresh's answer is held back after the service rotated the pair, while logout is called.
    let refreshAnswered: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      refreshAnswered = resolve;
    });
    let releaseRefresh: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      releaseRefresh = resolve;
    });
    let logoutSent = false;
    const recorder = recordingFetch();
    const holding: typeof fetch = async (input, init) => {
      if (new URL(String(input)).pathname === '/auth/logout') logoutSent = true;
      const response = await recorder.fetch(input, init);
      if (new URL(String(input)).pathname === '/auth/refresh') {
        refreshAnswered();
        await released;
      }
      return response;
    };
    const { client } = await signedInClient({ fetch: holding });
    await untilExpired(await storedTokens(client));

    const call = client.fetch('/me').catch((error: unknown) => error);
    await answered;
    const loggingOut = client.logout();
    // Give a logout that does not wait for the refresh the chance to finish first (a correct one waits): one
    // that sends its request at once does so within a few turns of the event loop, and is then let finish.
    await turns(50);
    if (logoutSent) await loggingOut;
    releaseRefresh();
    await loggingOut;
    await call;

    expect(await client.tokens()).toBeNull();
    expect(recorder.sent.at(-1)).toMatchObject({ path: '/auth/logout', status: 204 });
    const rotated = recorder.refreshes()[0];
    expect(rotated?.status).toBe(200);
    expect(await client.fetch('/me').catch((error: unknown) => error)).toBeInstanceOf(SignedOutError);
  });

  it('signs out once, after a single refresh attempt, when the session has been revoked', async () => {
    const recorder = recordingFetch();
    const { client } = await signedInClient({ fetch: recorder.fetch });
    const signedOut: SignOutReason[] = [];
    client.on('signedOut', ({ reason }) => signedOut.push(reason));
    const { refreshToken } = await storedTokens(client);
    expect((await service.post('/auth/logout', { refreshToken })).status).toBe(204);

    const failure = await client.fetch('/me').catch((error: unknown) => error);
    const again = await client.fetch('/me').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SignedOutError);
    expect(failure).toMatchObject({ code: 'signed_out', reason: 'session_revoked' });
    expect(again).toMatchObject({ code: 'signed_out', reason: 'no_session' });
    expect(signedOut).toEqual(['session_revoked']);
    expect(recorder.sent.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /auth/register 201',
      'POST /auth/login 200',
      'GET /me 401',
      'POST /auth/refresh 401',
    ]);
    expect(await client.tokens()).toBeNull();
  });

  it('signs out without retrying when its refresh token turns out to have been reused', async () => {
    const recorder = recordingFetch();
    const { client } = await signedInClient({ fetch: recorder.fetch });
    const signedOut: SignOutReason[] = [];
    client.on('signedOut', ({ reason }) => signedOut.push(reason));
    const stolen = await storedTokens(client);
    // Someone else rotates the pair twice, so the client's refresh token is neither current nor the previous.
    const once = await service.post('/auth/refresh', { refreshToken: stolen.refreshToken });
    expect((await service.post('/auth/refresh', { refreshToken: once.json.refreshToken })).status).toBe(200);
    await untilExpired(stolen);

    const failure = await client.fetch('/me').catch((error: unknown) => error);

    expect(failure).toMatchObject({ code: 'signed_out', reason: 'refresh_token_reused' });
    expect(signedOut).toEqual(['refresh_token_reused']);
    expect(recorder.refreshes().map((r) => r.status)).toEqual([401]);
  });

  it('fails the next call as signed out after logout, and the old access token is refused', async () => {
    const recorder = recordingFetch();
    const { client } = await signedInClient({ fetch: recorder.fetch });
    const signedOut: SignOutReason[] = [];
    client.on('signedOut', ({ reason }) => signedOut.push(reason));
    const { accessToken } = await storedTokens(client);
    expect((await client.fetch('/me')).status).toBe(200);

    await client.logout();
    const requestsAfterLogout = recorder.sent.length;
    const failure = await client.fetch('/me').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SignedOutError);
    expect(failure).toMatchObject({ reason: 'no_session' });
    expect(recorder.sent.length).toBe(requestsAfterLogout);
    expect(recorder.sent.at(-1)).toMatchObject({ path: '/auth/logout', status: 204 });
    expect(signedOut).toEqual(['logged_out']);
    expect((await service.me(accessToken)).status).toBe(401);
  });

  it('logs out every session of the user with logoutAll', async () => {
    const { client, username } = await signedInClient();
    const other = new AuthClient({ baseUrl: service.url });
    await other.login(username, DEFAULT_PASSWORD);

    await client.logoutAll();

    expect(await client.tokens()).toBeNull();
    expect(await other.fetch('/me').catch((error: unknown) => error)).toMatchObject({
      reason: 'session_revoked',
    });
  });

  it('reports the contract error codes as typed errors', async () => {
    const client = new AuthClient({ baseUrl: service.url });
    await client.register('typed-errors', DEFAULT_PASSWORD);

    const taken = await client.register('typed-errors', DEFAULT_PASSWORD).catch((error: unknown) => error);
    const wrong = await client.login('typed-errors', 'not the password at all').catch((e: unknown) => e);

    expect(taken).toBeInstanceOf(AuthError);
    expect(taken).toMatchObject({ code: 'username_taken', status: 409 });
    expect(wrong).toMatchObject({ code: 'invalid_credentials', status: 401 });
  });

  it('refuses to send its token to anything but a path on its API', async () => {
    const { client } = await signedInClient();
    await expect(client.fetch('https://elsewhere.example/steal')).rejects.toThrow(TypeError);
    await expect(client.fetch('//elsewhere.example/steal')).rejects.toThrow(TypeError);
  });
});

describe('the client error codes', () => {
  it('are exactly the contract catalogue', () => {
    expectTypeOf<ApiErrorCode>().toEqualTypeOf<ErrorCode>();
    for (const code of Object.keys(errorCatalogue)) expect(isApiErrorCode(code)).toBe(true);
    expect(isApiErrorCode('made_up')).toBe(false);
  });
});
