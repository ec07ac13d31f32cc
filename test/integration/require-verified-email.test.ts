import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ REQUIRE_VERIFIED_EMAIL: 'true' });
});
afterAll(() => service.close());

describe('REQUIRE_VERIFIED_EMAIL=true', () => {
  it('register needs an address (400 invalid_request without one)', async () => {
    const answer = await service.post('/auth/register', {
      username: 'no-address',
      password: DEFAULT_PASSWORD,
    });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_request');
  });

  it('login answers 403 email_not_verified after a right password until the address is verified', async () => {
    const email = 'verify-me@example.com';
    const registered = await service.post('/auth/register', {
      username: 'verify-me',
      password: DEFAULT_PASSWORD,
      email,
    });
    expect(registered.status).toBe(201);
    const early = await service.login('verify-me');
    expect(early.status).toBe(403);
    expect(early.json.error).toBe('email_not_verified');
    // A wrong password is the usual 401: the 403 says nothing to someone without the password.
    expect((await service.login('verify-me', 'not the password')).json.error).toBe('invalid_credentials');
    const [mail] = await mailsTo(service.server.mailDir, email);
    expect((await service.post('/auth/email/verify', { token: mail?.token })).status).toBe(204);
    expect((await service.login('verify-me')).status).toBe(200);
  });
});
