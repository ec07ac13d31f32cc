import {
  AuthClient,
  AuthError,
  memoryStorage,
  type SignOutReason,
  type StoredTokens,
  type TokenStorage,
} from '@lambda-token-auth/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  countRequests,
  functionClients,
  injectFaults,
  type RequestCounter,
} from '../support/sdk-middleware.ts';
import {
  claimsOf,
  DEFAULT_PASSWORD,
  type HttpTestService,
  startHttpTestService,
} from '../support/service.ts';

/**
 * The client against contract v2's idempotent refresh: an answer lost on the way back is retried once with the
 * same tokens and the service answers it with the very pair it issued; tabs converge on one pair without
 * waiting for each other; a 409 from a server before v2 is still tolerated.
 *
 * The clients' clocks are moved forward instead of waiting for tokens to expire: a client whose clock says its
 * access token is about to expire refreshes before its next call (the service needs no expiry to refresh).
 */
let service: HttpTestService;
let counter: RequestCounter;
beforeAll(async () => {
  service = await startHttpTestService();
  counter = countRequests(functionClients(), 'client-lost-answers-counter');
});
afterAll(async () => {
  counter.remove();
  await service.close();
});
beforeEach(() => counter.reset());

/** A clock for a client: the real time plus an offset the test moves. */
function clientClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    /** Past the refresh point of any pair obtained so far (access tokens live 600 s). */
    skipToRefresh() {
      offset += 600_000;
    },
  };
}

interface Sent {
  path: string;
  status: number;
  refreshToken?: string;
}

/**
 * A `fetch` that records what reached the service, and can lose answers: `loseNext(n)` makes the next `n`
 * refresh requests reach the service (which acts on them) while their answers never reach the client, as
 * with a dropped connection.
 */
function lossyFetch() {
  const sent: Sent[] = [];
  let toLose = 0;
  const lossy: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    const response = await fetch(input, init);
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : {};
    sent.push({ path, status: response.status, refreshToken: body.refreshToken });
    if (path === '/auth/refresh' && toLose > 0) {
      toLose -= 1;
      await response.text(); // the service has answered in full; the client never sees it
      throw new TypeError('fetch failed (the connection dropped; injected)');
    }
    return response;
  };
  return {
    fetch: lossy,
    sent,
    refreshes: () => sent.filter((request) => request.path === '/auth/refresh'),
    loseNext(count: number) {
      toLose = count;
    },
  };
}

let users = 0;
async function signedIn(options: {
  fetch: typeof fetch;
  storage?: TokenStorage;
  now: () => number;
  refreshTimeoutSeconds?: number;
}) {
  users += 1;
  const username = `lossy-${users}`;
  const client = new AuthClient({ baseUrl: service.url, ...options });
  await client.register(username, DEFAULT_PASSWORD);
  await client.login(username, DEFAULT_PASSWORD);
  const signedOut: SignOutReason[] = [];
  client.on('signedOut', ({ reason }) => signedOut.push(reason));
  return { client, signedOut };
}

async function held(client: AuthClient): Promise<StoredTokens> {
  const tokens = await client.tokens();
  if (!tokens) throw new Error('expected the client to hold tokens');
  return tokens;
}

const sessionOf = (tokens: StoredTokens) => service.storedItem(`session#${claimsOf(tokens.accessToken).sid}`);

describe('a refresh whose answer is lost', () => {
  it('is sent once more with the same token, gets the same pair, and the session goes on (one rotation written)', async () => {
    const network = lossyFetch();
    const clock = clientClock();
    const { client, signedOut } = await signedIn({ fetch: network.fetch, now: clock.now });
    const r0 = await held(client);
    clock.skipToRefresh();
    network.loseNext(1);
    counter.reset();

    const response = await client.fetch('/me');

    expect(response.status).toBe(200);
    const refreshes = network.refreshes();
    expect(refreshes.map((r) => r.status)).toEqual([200, 200]);
    expect(refreshes.map((r) => r.refreshToken)).toEqual([r0.refreshToken, r0.refreshToken]);
    // Exactly one rotation was written: the retry was answered from it.
    expect(counter.applied().UpdateItem).toBe(1);
    const r1 = await held(client);
    expect(r1.refreshToken).not.toBe(r0.refreshToken);
    expect((await sessionOf(r1))?.revoked).toBe(false);
    // It keeps working: a later refresh with the pair it kept rotates normally.
    clock.skipToRefresh();
    expect((await client.fetch('/me')).status).toBe(200);
    expect(network.refreshes().at(-1)).toMatchObject({ status: 200, refreshToken: r1.refreshToken });
    expect(signedOut).toEqual([]);
  });

  it('is retried when the service answers 503 after its write was applied, and gets the pair that write stored', async () => {
    const network = lossyFetch();
    const clock = clientClock();
    const { client, signedOut } = await signedIn({ fetch: network.fetch, now: clock.now });
    const r0 = await held(client);
    const faults = injectFaults(functionClients(), 'client-lost-answers-faults');
    try {
      // DynamoDB applies the rotation but its answer is lost: the service answers 503 with no token.
      faults.inject({ fault: 'timeout', operation: 'UpdateItem', when: 'after', times: 1 });
      clock.skipToRefresh();
      expect((await client.fetch('/me')).status).toBe(200);
    } finally {
      faults.remove();
    }
    expect(network.refreshes().map((r) => r.status)).toEqual([503, 200]);
    const r1 = await held(client);
    expect(r1.refreshToken).not.toBe(r0.refreshToken);
    expect((await sessionOf(r1))?.revoked).toBe(false);
    expect(signedOut).toEqual([]);
  });

  it('is retried in time when the first attempt hangs: the attempt is given up well within the grace window', async () => {
    // The first refresh reaches the service, which rotates; its answer then never arrives until the client
    // gives up on the attempt (its abort signal fires).
    const network = lossyFetch();
    let hung = 0;
    const hanging: typeof fetch = async (input, init) => {
      const response = await network.fetch(input, init);
      if (new URL(String(input)).pathname !== '/auth/refresh' || hung > 0) return response;
      hung += 1;
      await response.text();
      const signal = init?.signal;
      return new Promise<Response>((_resolve, reject) => {
        if (!signal) return reject(new Error('a refresh attempt must carry a timeout signal'));
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    };
    const clock = clientClock();
    const { client, signedOut } = await signedIn({
      fetch: hanging,
      now: clock.now,
      refreshTimeoutSeconds: 1,
    });
    const r0 = await held(client);
    clock.skipToRefresh();
    counter.reset();

    expect((await client.fetch('/me')).status).toBe(200);

    expect(hung).toBe(1);
    expect(network.refreshes().map((r) => r.refreshToken)).toEqual([r0.refreshToken, r0.refreshToken]);
    expect(counter.applied().UpdateItem).toBe(1);
    expect((await sessionOf(await held(client)))?.revoked).toBe(false);
    expect(signedOut).toEqual([]);
  });

  it('is sent at most twice: a second lost answer is a network error, and the session is kept for later', async () => {
    const network = lossyFetch();
    const clock = clientClock();
    const { client, signedOut } = await signedIn({ fetch: network.fetch, now: clock.now });
    const r0 = await held(client);
    clock.skipToRefresh();
    network.loseNext(2);

    const failure = await client.fetch('/me').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(AuthError);
    expect(failure).toMatchObject({ code: 'network_error' });
    expect(network.refreshes()).toHaveLength(2);
    expect((await held(client)).refreshToken).toBe(r0.refreshToken);
    expect(signedOut).toEqual([]);
    // The next call retries with the token it still holds: within the grace window, the same pair again.
    expect((await client.fetch('/me')).status).toBe(200);
    expect(network.refreshes().map((r) => r.refreshToken)).toEqual(Array(3).fill(r0.refreshToken));
    expect(signedOut).toEqual([]);
  });
});

describe('tabs sharing one storage', () => {
  it('converge on one pair, with one rotation written, when a tab refreshes with a pair its storage had not yet replaced', async () => {
    // Two tabs on one origin: refreshes serialised by a Web Lock (Node 24 has navigator.locks), but the second
    // tab's view of localStorage lags: it still reads the login pair after the first tab stored the new one.
    const shared = memoryStorage();
    let lagging: StoredTokens | null = null;
    const lockName = `lost-answers-lock-${users + 1}`;
    const firstTab: TokenStorage = {
      get: () => shared.get(),
      set: (tokens) => shared.set(tokens),
      clear: () => shared.clear(),
      lockName,
    };
    const secondTab: TokenStorage = {
      get: () => lagging ?? shared.get(),
      set: (tokens) => {
        lagging = null;
        shared.set(tokens);
      },
      clear: () => shared.clear(),
      lockName,
    };
    const network = lossyFetch();
    const clock = clientClock();
    const { client: first, signedOut } = await signedIn({
      fetch: network.fetch,
      storage: firstTab,
      now: clock.now,
    });
    const second = new AuthClient({
      baseUrl: service.url,
      fetch: network.fetch,
      storage: secondTab,
      now: clock.now,
    });
    const r0 = await held(first);
    lagging = { ...r0 };
    clock.skipToRefresh();
    counter.reset();

    const [a, b] = await Promise.all([first.fetch('/me'), second.fetch('/me')]);

    expect([a.status, b.status]).toEqual([200, 200]);
    // Both tabs presented the login token; both got the one pair, and no tab waited for the other's storage.
    const refreshes = network.refreshes();
    expect(refreshes.map((r) => [r.status, r.refreshToken])).toEqual([
      [200, r0.refreshToken],
      [200, r0.refreshToken],
    ]);
    expect(counter.applied().UpdateItem).toBe(1);
    const converged = await held(first);
    expect((await held(second)).refreshToken).toBe(converged.refreshToken);
    expect(converged.refreshToken).not.toBe(r0.refreshToken);
    expect((await sessionOf(converged))?.revoked).toBe(false);
    expect(signedOut).toEqual([]);
    second.dispose();
  });
});

describe('a server before contract v2', () => {
  /**
   * Makes the service look like one that answers a refresh that lost a race `409 refresh_conflict`: the next
   * refresh is answered 409 after `winner` (another tab) has rotated the pair and stored its new one.
   */
  function olderServer(winner?: () => Promise<void>) {
    const network = lossyFetch();
    let conflicts = 0;
    const older: typeof fetch = async (input, init) => {
      if (new URL(String(input)).pathname === '/auth/refresh' && conflicts === 0) {
        conflicts += 1;
        await winner?.();
        return new Response(
          JSON.stringify({ error: 'refresh_conflict', message: 'Use the newest tokens.' }),
          {
            status: 409,
            headers: { 'content-type': 'application/json' },
          },
        );
      }
      return network.fetch(input, init);
    };
    return { fetch: older, network };
  }

  it('continues from the pair another tab stored when its refresh is answered 409', async () => {
    const storage = memoryStorage();
    let otherTab: AuthClient | undefined;
    const server = olderServer(async () => {
      // The other tab rotates the same pair first and stores what it got.
      await otherTab?.fetch('/me');
    });
    const clock = clientClock();
    const { client, signedOut } = await signedIn({ fetch: server.fetch, storage, now: clock.now });
    otherTab = new AuthClient({ baseUrl: service.url, storage, now: clock.now });
    const r0 = await held(client);
    clock.skipToRefresh();

    expect((await client.fetch('/me')).status).toBe(200);

    const adopted = await held(client);
    expect(adopted.refreshToken).not.toBe(r0.refreshToken);
    // This client sent no refresh of its own after the 409: it took the other tab's pair.
    expect(server.network.refreshes()).toEqual([]);
    expect(signedOut).toEqual([]);
    otherTab.dispose();
  });

  it('keeps the session when a 409 comes and nothing newer arrives: the call fails, the next one refreshes', async () => {
    const server = olderServer();
    const clock = clientClock();
    const { client, signedOut } = await signedIn({ fetch: server.fetch, now: clock.now });
    const r0 = await held(client);
    // Past the access token's own end too, so the call cannot fall back on it.
    clock.skipToRefresh();

    const failure = await client.fetch('/me').catch((error: unknown) => error);

    expect(failure).toMatchObject({ code: 'refresh_conflict', status: 409 });
    expect((await held(client)).refreshToken).toBe(r0.refreshToken);
    expect(signedOut).toEqual([]);
    expect((await client.fetch('/me')).status).toBe(200);
    expect(signedOut).toEqual([]);
  });
});
