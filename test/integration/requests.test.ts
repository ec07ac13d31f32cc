import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

const endpoints = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout'];

describe('bad request bodies get a clear 4xx from the catalogue, never a 500', () => {
  it.each(endpoints)('%s: a body that is not JSON is 400 invalid_request', async (path) => {
    const response = await service.request('POST', path, {
      rawBody: '{"username": "x", ',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: 'invalid_request', message: expect.any(String) });
  });

  it.each(endpoints)('%s: a form-encoded body is 400 invalid_request', async (path) => {
    const response = await service.request('POST', path, {
      rawBody: 'username=x&password=y',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(400);
    expect(response.json.error).toBe('invalid_request');
  });

  it.each(endpoints)('%s: a 2 MB body is 413 payload_too_large', async (path) => {
    const response = await service.request('POST', path, {
      rawBody: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(413);
    expect(response.json).toEqual({ error: 'payload_too_large', message: expect.any(String) });
  });

  it('accepts a body of just under 64 KiB (the limit is on size, not on shape)', async () => {
    const response = await service.post('/auth/login', {
      username: 'someone',
      password: 'p',
      pad: 'x'.repeat(64_000),
    });
    expect(response.status).toBe(401);
  });

  it.each(['null', '"a string"', '42', 'true'])(
    'answers JSON %s as a body with 400 invalid_request',
    async (raw) => {
      const response = await service.request('POST', '/auth/login', {
        rawBody: raw,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status).toBe(400);
      expect(response.json.error).toBe('invalid_request');
    },
  );

  it('does not let a __proto__ key through the JSON parser', async () => {
    const response = await service.request('POST', '/auth/login', {
      rawBody: '{"__proto__": {"admin": true}, "username": "a", "password": "b"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });

  it('answers an unknown route with 404 not_found and a wrong method with 405', async () => {
    expect((await service.request('GET', '/nowhere')).json.error).toBe('not_found');
    expect((await service.request('GET', '/auth/login')).status).toBe(405);
  });

  it('never puts a stack trace or an internal detail in an error body', async () => {
    const response = await service.request('POST', '/auth/refresh', {
      rawBody: '{"refreshToken": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.text).not.toMatch(/at .*\.ts:\d+|Error:|node_modules/);
  });
});
