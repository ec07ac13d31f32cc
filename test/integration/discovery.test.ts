import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, TEST_SECRET, type TestService } from '../support/service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ SIGNING_ALG: 'HS256' }, { jwtSecret: TEST_SECRET }); // whatever TEST_SIGNING_ALG says
});
afterAll(() => service.close());

describe('discovery with HS256', () => {
  it.each(['/.well-known/jwks.json', '/.well-known/openid-configuration'])(
    'answers %s with 404 not_found: a shared secret has no public key',
    async (path) => {
      const response = await service.request('GET', path);
      expect(response.status).toBe(404);
      expect(response.json.error).toBe('not_found');
      expect(response.headers.get('cache-control')).toBe('no-store');
    },
  );

  it('keeps every other answer no-store', async () => {
    const login = await service.login('nobody-here');
    expect(login.headers.get('cache-control')).toBe('no-store');
  });
});
