import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

let names = 0;
const freshName = () => `step-up-${++names}-${Math.random().toString(36).slice(2, 8)}`;
const get = (path: string, token: string) =>
  service.request('GET', path, { headers: { authorization: `Bearer ${token}` } });

describe('GET /me/sensitive (requireMfa, maxAuthAge 900) through the local gateway', () => {
  it('refuses a password-only token with 401 and the RFC 9470 challenge, where /me answers', async () => {
    const tokens = await service.signUp(freshName());
    expect((await get('/me', tokens.accessToken)).status).toBe(200);
    const refused = await get('/me/sensitive', tokens.accessToken);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ message: 'Unauthorized' });
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A sign-in with a second factor is required; sign in again"',
    );
  });

  it('is the usual bare 401 without a token or with a revoked one: step-up is judged only on a live session', async () => {
    const missing = await service.request('GET', '/me/sensitive');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const tokens = await service.signUp(freshName());
    await service.post('/auth/logout', { refreshToken: tokens.refreshToken });
    const revoked = await get('/me/sensitive', tokens.accessToken);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toBe('Bearer');
    expect(claimsOf(tokens.accessToken).amr).toEqual(['pwd']);
  });
});
