import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeClock } from '../support/clock.ts';
import { claimsOf, startTestService, type TestService } from '../support/service.ts';

// The original design's case needs an access token that outlives its refresh token.
const ACCESS_TTL = 300;
const REFRESH_TTL = 60;
const MAX_AGE = 1000;

let service: TestService;
beforeAll(async () => {
  service = await startTestService({
    ACCESS_TOKEN_TTL: String(ACCESS_TTL),
    REFRESH_TOKEN_TTL: String(REFRESH_TTL),
    SESSION_MAX_AGE: String(MAX_AGE),
  });
});
afterAll(() => service.close());
const clock = useFakeClock();

let userCount = 0;
const newSession = () => service.signUp(`extender-${++userCount}`);
const refresh = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  service.post('/auth/refresh', body, headers);

describe('check 6: "access token still valid, refresh token expired" (the original design)', () => {
  it('issues a new refresh token when a valid access token of the same session comes with the expired one', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 5);
    const response = await refresh({ refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
    expect(response.status).toBe(200);
    expect(claimsOf(response.json.refreshToken).exp).toBeGreaterThan(Math.floor(Date.now() / 1000));
    expect((await service.me(response.json.accessToken)).status).toBe(200);
  });

  it('takes that access token from the Authorization header too', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 5);
    const response = await refresh(
      { refreshToken: tokens.refreshToken },
      { authorization: `Bearer ${tokens.accessToken}` },
    );
    expect(response.status).toBe(200);
  });

  it('refuses with token_expired when no access token comes along', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 5);
    expect((await refresh({ refreshToken: tokens.refreshToken })).json.error).toBe('token_expired');
  });

  it('ignores a valid access token of another session of the same user', async () => {
    const tokens = await newSession();
    const other = await service.login(`extender-${userCount}`);
    clock.advance(REFRESH_TTL + 5);
    const response = await refresh({
      refreshToken: tokens.refreshToken,
      accessToken: other.json.accessToken,
    });
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('token_expired');
  });

  it('ignores a valid access token of another user', async () => {
    const tokens = await newSession();
    const stranger = await newSession();
    clock.advance(REFRESH_TTL + 5);
    const response = await refresh({ refreshToken: tokens.refreshToken, accessToken: stranger.accessToken });
    expect(response.json.error).toBe('token_expired');
  });

  it('ignores an access token that fails verification', async () => {
    const tokens = await newSession();
    clock.advance(REFRESH_TTL + 5);
    const response = await refresh({
      refreshToken: tokens.refreshToken,
      accessToken: `${tokens.accessToken}x`,
    });
    expect(response.json.error).toBe('token_expired');
  });

  it('cannot extend a session past SESSION_MAX_AGE', async () => {
    let tokens = await newSession();
    const sessionEnd = claimsOf(tokens.accessToken).auth_time + MAX_AGE;
    // Extend with the access token each time the refresh token has expired, for as long as it is allowed.
    let extensions = 0;
    for (;;) {
      clock.advance(REFRESH_TTL + 1);
      const response = await refresh({ refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
      if (response.status !== 200) {
        expect(response.json.error).toBe('token_expired');
        break;
      }
      extensions += 1;
      tokens = response.json;
      expect(claimsOf(tokens.accessToken).exp).toBeLessThanOrEqual(sessionEnd);
      expect(claimsOf(tokens.refreshToken).exp).toBeLessThanOrEqual(sessionEnd);
    }
    expect(extensions).toBeGreaterThan(0);
    expect(Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(sessionEnd - REFRESH_TTL);
  });
});

// The access token is optional and ignored when it fails verification; so is one that is not a
// usable string, and an empty one never hides the Authorization header.
describe('an access token in the body that is empty or not a string', () => {
  it.each([
    ['123', 123],
    ['true', true],
    ['{}', {}],
    ['[]', []],
    ['null', null],
    ['""', ''],
  ])('%s with a valid current refresh token: 200, as if it were absent', async (_name, accessToken) => {
    const tokens = await newSession();
    const response = await refresh({ refreshToken: tokens.refreshToken, accessToken });
    expect(response.status).toBe(200);
    expect((await service.me(response.json.accessToken)).status).toBe(200);
  });

  it.each([
    ['""', ''],
    ['123', 123],
    ['{}', {}],
  ])(
    '%s does not hide a valid Authorization: Bearer that extends an expired refresh token',
    async (_name, accessToken) => {
      const tokens = await newSession();
      clock.advance(REFRESH_TTL + 5);
      const response = await refresh(
        { refreshToken: tokens.refreshToken, accessToken },
        { authorization: `Bearer ${tokens.accessToken}` },
      );
      expect(response.status).toBe(200);
    },
  );
});
