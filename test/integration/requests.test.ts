import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service.close());

const endpoints = [
  '/auth/register',
  '/auth/login',
  '/auth/refresh',
  '/auth/logout',
  '/auth/email/verify',
  '/auth/password/forgot',
  '/auth/password/reset',
];

describe('bad request bodies get a clear 4xx from the catalogue, never a 500', () => {
  it.each(endpoints)('%s: a body that is not JSON is 400 invalid_request', async (path) => {
    const response = await service.request('POST', path, {
      rawBody: '{"username": "x", ',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(response.json).toEqual({ error: 'invalid_request', message: expect.any(String) });
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

// A body of any other content type could be sent by any web page as a CORS "simple" request,
// with no preflight (a login that locks a visitor's account, say). API.md: 415 unsupported_media_type.
describe('a request body must be sent as application/json', () => {
  const login = JSON.stringify({ username: 'media-victim', password: 'not the password at all' });
  const notJson: [string, string | undefined][] = [
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=xyz'],
    ['no content type', undefined],
    ['text/json', 'text/json'],
    ['a +json suffix', 'application/merge-patch+json'],
    ['json as a parameter only', 'text/plain; type=application/json'],
  ];

  it.each(notJson)(
    '%s: 415 unsupported_media_type on every endpoint, and nothing is counted',
    async (_name, type) => {
      for (const path of endpoints) {
        const response = await service.request('POST', path, {
          rawBody: login,
          headers: type === undefined ? {} : { 'content-type': type },
        });
        expect(response.status).toBe(415);
        expect(response.json).toEqual({ error: 'unsupported_media_type', message: expect.any(String) });
      }
      expect(await service.storedItem('user#media-victim')).toBeUndefined();
    },
  );

  it('any content type other than application/json is 415, whatever its case or parameters', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z]{1,12}\/[a-z.+-]{1,20}$/).filter((type) => type !== 'application/json'),
        fc.constantFrom('', '; charset=utf-8', ';q=1'),
        fc.boolean(),
        async (type, parameters, upper) => {
          const header = upper ? `${type}${parameters}`.toUpperCase() : `${type}${parameters}`;
          const response = await service.request('POST', '/auth/login', {
            rawBody: login,
            headers: { 'content-type': header },
          });
          expect(response.status).toBe(415);
        },
      ),
      { numRuns: 50 },
    );
  });

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON;charset=UTF-8',
    ' application/json ; charset="utf-8"',
  ])('%j is accepted', async (type) => {
    const response = await service.request('POST', '/auth/login', {
      rawBody: login,
      headers: { 'content-type': type },
    });
    expect(response.status).toBe(401);
  });

  it('a request without a body needs no content type: logout with only its Authorization header', async () => {
    const tokens = await service.signUp('media-logout');
    const response = await service.request('POST', '/auth/logout', {
      headers: { authorization: `Bearer ${tokens.accessToken}`, 'content-type': 'text/plain' },
    });
    expect(response.status).toBe(204);
    const bare = await service.request('POST', '/auth/logout', {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(bare.status).toBe(204);
  });
});
