import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServices } from '../../lib/services.ts';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { useFakeClock } from '../support/clock.ts';
import { countRequests } from '../support/sdk-middleware.ts';
import { claimsOf, startTestService, type TestService, type TokenPairBody } from '../support/service.ts';

// Short lifetimes so the clock can walk a session through every state of API.md's refresh table.
const ACCESS_TTL = 60;
const REFRESH_TTL = 120;
const MAX_AGE = 600;
const GRACE = 10;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    ACCESS_TOKEN_TTL: String(ACCESS_TTL),
    REFRESH_TOKEN_TTL: String(REFRESH_TTL),
    SESSION_MAX_AGE: String(MAX_AGE),
    REFRESH_REUSE_GRACE: String(GRACE),
  });
});
afterAll(() => service.close());
const clock = useFakeClock();

let userCount = 0;
const newSession = () => service.signUp(`refresher-${++userCount}`);
const refresh = (
  refreshToken: unknown,
  extra: Record<string, unknown> = {},
  headers?: Record<string, string>,
) => service.post('/auth/refresh', { refreshToken, ...extra }, headers);
const sessionItem = (tokens: TokenPairBody) =>
  service.storedItem(`session#${claimsOf(tokens.accessToken).sid}`);

describe('a successful refresh', () => {
  it('returns a new access token and a rotated refresh token for the same session', async () => {
    const tokens = await newSession();
    const response = await refresh(tokens.refreshToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.json).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: ACCESS_TTL,
      refreshExpiresIn: REFRESH_TTL,
    });
    expect(response.json.refreshToken).not.toBe(tokens.refreshToken);
    expect(claimsOf(response.json.accessToken).sid).toBe(claimsOf(tokens.accessToken).sid);
    expect(claimsOf(response.json.refreshToken).sid).toBe(claimsOf(tokens.accessToken).sid);
    expect((await service.me(response.json.accessToken)).status).toBe(200);
  });

  it('stores only the hash of the new refresh token, never the token', async () => {
    const tokens = await newSession();
    const response = await refresh(tokens.refreshToken);
    const item = await sessionItem(tokens);
    const stored = JSON.stringify(item);
    expect(stored).not.toContain(response.json.refreshToken);
    expect(stored).not.toContain(tokens.refreshToken);
    expect(item?.refreshHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('accepts the access token from the Authorization header as well as the body', async () => {
    const tokens = await newSession();
    const response = await refresh(
      tokens.refreshToken,
      {},
      { authorization: `Bearer ${tokens.accessToken}` },
    );
    expect(response.status).toBe(200);
  });
});

describe('check 1: the body', () => {
  it.each([
    ['no refreshToken', {}],
    ['a numeric refreshToken', { refreshToken: 42 }],
    ['a null refreshToken', { refreshToken: null }],
  ])('answers 400 invalid_request for %s', async (_name, body) => {
    const response = await service.post('/auth/refresh', body);
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });
});

describe('check 2: the refresh token verifies', () => {
  it('answers 401 invalid_token with a Bearer challenge for a tampered token', async () => {
    const tokens = await newSession();
    const [header, payload, signature] = tokens.refreshToken.split('.');
    const tampered = `${header}.${payload}.${signature?.startsWith('A') ? 'B' : 'A'}${signature?.slice(1)}`;
    const response = await refresh(tampered);
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ error: 'invalid_token', message: expect.any(String) });
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('refuses an access token presented as the refresh token', async () => {
    const tokens = await newSession();
    const response = await refresh(tokens.accessToken);
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
  });

  it('takes check 2 before check 3: a forged token of a revoked session is invalid_token', async () => {
    const tokens = await newSession();
    await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
    const response = await refresh(`${tokens.refreshToken}x`);
    expect(response.json.error).toBe('invalid_token');
  });
});

describe('check 3: the session exists and is not revoked', () => {
  it('answers 401 session_revoked after logout', async () => {
    const tokens = await newSession();
    expect((await service.post('/auth/logout', { refreshToken: tokens.refreshToken })).status).toBe(204);
    const response = await refresh(tokens.refreshToken);
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('session_revoked');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('takes check 3 before check 6: an expired token of a revoked session is session_revoked', async () => {
    const tokens = await newSession();
    await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
    clock.advance(REFRESH_TTL + 1);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
  });
});

describe('check 4: the session is younger than SESSION_MAX_AGE', () => {
  it('answers 401 token_expired once the session has reached its maximum age, however it was refreshed', async () => {
    let tokens = await newSession();
    // Keep refreshing just before each refresh token expires, until the session's end.
    for (let elapsed = 0; elapsed + REFRESH_TTL - 10 < MAX_AGE; elapsed += REFRESH_TTL - 10) {
      clock.advance(REFRESH_TTL - 10);
      const response = await refresh(tokens.refreshToken);
      expect(response.status).toBe(200);
      tokens = response.json;
    }
    clock.advance(REFRESH_TTL - 10);
    const response = await refresh(tokens.refreshToken, { accessToken: tokens.accessToken });
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('token_expired');
  });

  it('never issues a token whose exp reaches past the session end, and says so in expiresIn', async () => {
    const tokens = await newSession();
    const sessionEnd = claimsOf(tokens.refreshToken).auth_time + MAX_AGE;
    let current = tokens;
    for (let step = 0; step < 6; step += 1) {
      clock.advance(100);
      const response = await refresh(current.refreshToken);
      if (response.status !== 200) break;
      current = response.json;
      const now = Math.floor(Date.now() / 1000);
      expect(claimsOf(current.refreshToken).exp).toBeLessThanOrEqual(sessionEnd);
      expect(claimsOf(current.accessToken).exp).toBeLessThanOrEqual(sessionEnd);
      expect(current.refreshExpiresIn).toBe(claimsOf(current.refreshToken).exp - now);
      expect(current.expiresIn).toBe(claimsOf(current.accessToken).exp - now);
    }
    // 6 x 100 s reaches the end: the last refreshes were clamped to it.
    expect(claimsOf(current.refreshToken).exp).toBe(sessionEnd);
  });

  it('refuses a session past its end even though its item is still stored (the TTL sweep lags)', async () => {
    const tokens = await newSession();
    let current = tokens;
    for (let elapsed = 0; elapsed < MAX_AGE; elapsed += 100) {
      clock.advance(100);
      const response = await refresh(current.refreshToken);
      if (response.status === 200) current = response.json;
    }
    clock.advance(1);
    const item = await sessionItem(tokens);
    expect(item).toBeDefined();
    expect(item?.revoked).toBe(false);
    expect((await refresh(current.refreshToken)).json.error).toBe('token_expired');
  });

  it('answers token_expired, not session_revoked, once the TTL sweep has deleted a session past its end', async () => {
    const tokens = await newSession();
    clock.advance(MAX_AGE + 1);
    await service.deleteItem(`session#${claimsOf(tokens.accessToken).sid}`);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('token_expired');
  });

  it('takes check 4 before check 5: an old token after the session end is token_expired, not a replay', async () => {
    const tokens = await newSession();
    expect((await refresh(tokens.refreshToken)).status).toBe(200);
    clock.advance(MAX_AGE + 1);
    const response = await refresh(tokens.refreshToken);
    expect(response.json.error).toBe('token_expired');
    expect((await sessionItem(tokens))?.revoked).toBe(false);
  });
});

describe('check 5: the token is the current one', () => {
  it('answers the previous token within the grace period with the very pair its rotation issued, writing nothing', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    expect(first.status).toBe(200);
    const before = await sessionItem(tokens);
    clock.advance(GRACE - 1);
    const retry = await refresh(tokens.refreshToken);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('cache-control')).toBe('no-store');
    expect(retry.json.accessToken).toBe(first.json.accessToken);
    expect(retry.json.refreshToken).toBe(first.json.refreshToken);
    // The remaining lifetimes, not the configured ones: the same tokens are GRACE - 1 seconds older.
    expect(retry.json).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: ACCESS_TTL - (GRACE - 1),
      refreshExpiresIn: REFRESH_TTL - (GRACE - 1),
    });
    expect(await sessionItem(tokens)).toEqual(before);
    expect((await service.me(retry.json.accessToken)).status).toBe(200);
    expect((await refresh(retry.json.refreshToken)).status).toBe(200);
  });

  it('answers the previous token at the last second of the grace period, and revokes the session one second later', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    clock.advance(GRACE);
    expect((await refresh(tokens.refreshToken)).json.refreshToken).toBe(first.json.refreshToken);
    clock.advance(1);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('refresh_token_reused');
  });

  it('revokes the whole session when the previous token is replayed after the grace period', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    clock.advance(GRACE + 1);
    const replay = await refresh(tokens.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('refresh_token_reused');
    // The newest tokens die too.
    expect((await refresh(first.json.refreshToken)).json.error).toBe('session_revoked');
    expect((await service.me(first.json.accessToken)).status).toBe(401);
  });

  it('treats the grand-parent token as a replay even within the grace period', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    const second = await refresh(first.json.refreshToken);
    expect(second.status).toBe(200);
    const replay = await refresh(tokens.refreshToken);
    expect(replay.json.error).toBe('refresh_token_reused');
    expect((await service.me(second.json.accessToken)).status).toBe(401);
    expect((await refresh(second.json.refreshToken)).json.error).toBe('session_revoked');
  });

  it('answers nothing again once the session is logged out, even within the grace period', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    expect((await service.post('/auth/logout', { refreshToken: first.json.refreshToken })).status).toBe(204);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('session_revoked');
    // Revocation drops the sealed pair along with the session.
    expect((await sessionItem(tokens))?.sealedSuccessor).toBeUndefined();
  });

  it('takes check 5 before check 6: an expired rotated-out token is a replay', async () => {
    const tokens = await newSession();
    const first = await refresh(tokens.refreshToken);
    clock.advance(REFRESH_TTL + 1);
    expect((await refresh(tokens.refreshToken)).json.error).toBe('refresh_token_reused');
    expect((await refresh(first.json.refreshToken)).json.error).toBe('session_revoked');
  });
});

describe('check 6: the refresh token has not expired', () => {
  it('answers 401 token_expired for an expired refresh token sent alone', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 1);
    const response = await refresh(tokens.refreshToken);
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('token_expired');
  });

  it('does not let an expired access token of the same session extend it', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 1);
    expect((await refresh(tokens.refreshToken, { accessToken: tokens.accessToken })).json.error).toBe(
      'token_expired',
    );
  });
});

describe('check 7: racing refreshes', () => {
  it.each([12, 40])(
    'answers all of %i racing refreshes with one identical pair, and writes exactly one rotation',
    async (racers) => {
      const tokens = await newSession();
      const counter = countRequests(defaultServices().db, `racing-${racers}`);
      let results: Awaited<ReturnType<typeof refresh>>[];
      try {
        results = await Promise.all(Array.from({ length: racers }, () => refresh(tokens.refreshToken)));
      } finally {
        counter.remove();
      }
      expect(results.map((r) => r.status)).toEqual(Array(racers).fill(200));
      const pairs = new Set(results.map((r) => `${r.json.accessToken} ${r.json.refreshToken}`));
      expect(pairs.size).toBe(1);
      // One rotation stored: the current hash is the pair's, the previous the presented token's.
      const item = await sessionItem(tokens);
      const winner = results[0]?.json as TokenPairBody;
      expect(item?.refreshHash).toBe(hashRefreshToken(winner.refreshToken));
      expect(item?.previousRefreshHash).toBe(hashRefreshToken(tokens.refreshToken));
      // Each racer read the session with its account once, and wrote at most once: a loser that read before the
      // winner's write tried its conditional write and read the session again; one that read after it wrote
      // nothing at all.
      const counts = counter.counts();
      expect(counts.BatchGetItem).toBe(racers);
      expect(counts.UpdateItem ?? 0).toBeLessThanOrEqual(racers);
      expect(counts.GetItem ?? 0).toBe((counts.UpdateItem ?? 0) - 1);
      expect(counter.applied().UpdateItem).toBe(1);
      expect((await service.me(winner.accessToken)).status).toBe(200);
      expect((await refresh(winner.refreshToken)).status).toBe(200);
    },
  );
});
