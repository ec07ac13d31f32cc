import { AuthClient } from '@lambda-token-auth/client';
import { describe, expect, it } from 'vitest';

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('a login while a refresh of the previous session is in flight', () => {
  it.each([
    ['fails with session_revoked', () => json(401, { error: 'session_revoked', message: 'revoked' })],
    [
      'succeeds',
      () =>
        json(200, {
          accessToken: 'A1-refreshed',
          refreshToken: 'R1-refreshed',
          tokenType: 'Bearer',
          expiresIn: 600,
          refreshExpiresIn: 86400,
        }),
    ],
  ])('keeps the new login’s tokens when that refresh %s', async (_name, refreshAnswer) => {
    // The server is scripted: each login gets a new pair; the refresh answers only when the test says so.
    let logins = 0;
    let answerRefresh: (response: Response) => void = () => {};
    let refreshWasSent: () => void = () => {};
    const refreshSent = new Promise<void>((resolve) => {
      refreshWasSent = resolve;
    });
    const fetch = async (url: string | URL | Request) => {
      const path = new URL(String(url)).pathname;
      if (path === '/auth/login') {
        logins += 1;
        return json(200, {
          accessToken: `A${logins}`,
          refreshToken: `R${logins}`,
          tokenType: 'Bearer',
          expiresIn: 600,
          refreshExpiresIn: 86400,
        });
      }
      if (path === '/auth/refresh') {
        refreshWasSent();
        return new Promise<Response>((resolve) => (answerRefresh = resolve));
      }
      return json(200, {});
    };
    let now = 1_000_000;
    const client = new AuthClient({ baseUrl: 'http://auth.test', fetch, now: () => now });
    await client.login('alice', 'pw');
    now += 590_000; // the access token is about to expire: the next call refreshes first
    const call = client.fetch('/me').catch(() => undefined);
    await refreshSent;
    const secondLogin = client.login('bob', 'pw');
    // Lets a login that does not wait for the refresh finish first (a correct one waits); the scripted
    // server answers at once, so a few turns of the event loop are enough, without a wall-clock wait.
    for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    answerRefresh(refreshAnswer());
    await secondLogin;
    await call;
    expect((await client.tokens())?.refreshToken).toBe('R2');
  });
});
