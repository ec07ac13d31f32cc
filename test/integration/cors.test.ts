import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import { ApiError } from '../../lib/errors.ts';
import { corsHeaders, parseCorsOrigins } from '../../lib/http/cors.ts';
import { httpFunction } from '../../lib/http/function.ts';
import { startTestService, type TestService } from '../support/service.ts';

const ALLOWED = 'https://app.example.com';
const OTHER_ALLOWED = 'http://localhost:5173';
const DISALLOWED = 'https://evil.example.net';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ CORS_ORIGINS: `${ALLOWED}, ${OTHER_ALLOWED}` });
});
afterAll(() => service.close());

const corsOf = (headers: Headers) => ({
  allowOrigin: headers.get('access-control-allow-origin'),
  allowCredentials: headers.get('access-control-allow-credentials'),
  exposeHeaders: headers.get('access-control-expose-headers'),
  allowMethods: headers.get('access-control-allow-methods'),
  vary: headers.get('vary'),
});

describe('CORS on the local server', () => {
  it('echoes an allowed origin with credentials allowed on a successful answer and exposes Retry-After and WWW-Authenticate', async () => {
    const response = await service.post(
      '/auth/register',
      { username: 'cors-user', password: 'correct horse battery staple' },
      { origin: ALLOWED },
    );
    expect(response.status).toBe(201);
    expect(corsOf(response.headers)).toMatchObject({
      allowOrigin: ALLOWED,
      allowCredentials: 'true',
      vary: 'Origin',
    });
    expect(response.headers.get('access-control-expose-headers')).toContain('Retry-After');
    expect(response.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  });

  it('puts the CORS headers on error answers from the functions', async () => {
    const response = await service.post(
      '/auth/refresh',
      { refreshToken: 'not-a-token' },
      { origin: ALLOWED },
    );
    expect(response.status).toBe(401);
    expect(response.json.error).toBe('invalid_token');
    expect(corsOf(response.headers)).toMatchObject({ allowOrigin: ALLOWED, allowCredentials: 'true' });
  });

  it("puts the CORS headers on the authorizer's own 401", async () => {
    const response = await service.request('GET', '/me', {
      headers: { origin: OTHER_ALLOWED, authorization: 'Bearer nonsense' },
    });
    expect(response.status).toBe(401);
    expect(response.json).toEqual({ message: 'Unauthorized' });
    expect(corsOf(response.headers)).toMatchObject({ allowOrigin: OTHER_ALLOWED, allowCredentials: 'true' });
  });

  it("puts the CORS headers with credentials on the gateway's own 404 and 405", async () => {
    const unknown = await service.request('GET', '/nowhere', { headers: { origin: ALLOWED } });
    const wrongMethod = await service.request('GET', '/auth/login', { headers: { origin: ALLOWED } });
    expect([unknown.status, wrongMethod.status]).toEqual([404, 405]);
    for (const response of [unknown, wrongMethod]) {
      expect(corsOf(response.headers)).toMatchObject({ allowOrigin: ALLOWED, allowCredentials: 'true' });
    }
  });

  it('answers a preflight for a known route with the methods and headers the API takes, X-Token-Transport and credentials included', async () => {
    const response = await service.request('OPTIONS', '/auth/refresh', {
      headers: {
        origin: ALLOWED,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-token-transport',
      },
    });
    expect(response.status).toBe(204);
    expect(corsOf(response.headers)).toMatchObject({
      allowOrigin: ALLOWED,
      allowCredentials: 'true',
      allowMethods: 'POST, OPTIONS',
    });
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toBe(
      'authorization, content-type, x-token-transport',
    );
  });

  it('gives a disallowed origin no CORS headers, on preflights, answers, errors and the authorizer 401', async () => {
    const preflight = await service.request('OPTIONS', '/auth/login', {
      headers: { origin: DISALLOWED, 'access-control-request-method': 'POST' },
    });
    const answer = await service.post(
      '/auth/login',
      { username: 'cors-user', password: 'x' },
      { origin: DISALLOWED },
    );
    const authorizer = await service.request('GET', '/me', { headers: { origin: DISALLOWED } });
    const unknown = await service.request('GET', '/nowhere', { headers: { origin: DISALLOWED } });
    for (const response of [preflight, answer, authorizer, unknown]) {
      expect(corsOf(response.headers)).toEqual({
        allowOrigin: null,
        allowCredentials: null,
        exposeHeaders: null,
        allowMethods: null,
        vary: 'Origin',
      });
    }
    expect(answer.status).toBe(401);
  });

  it('matches origins exactly: another scheme, port or a suffix is not allowed', async () => {
    for (const origin of [
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com.evil.net',
    ]) {
      const response = await service.post('/auth/refresh', { refreshToken: 'x' }, { origin });
      expect(corsOf(response.headers).allowOrigin).toBeNull();
    }
  });
});

describe('CORS in the Lambda functions themselves (lib/http/function.ts)', () => {
  const event = (origin: string) =>
    proxyEvent({
      method: 'POST',
      path: '/auth/logout',
      headers: { Origin: origin, 'Content-Type': 'application/json' },
      body: '{}',
    });

  it('adds the headers to success and error responses, whatever the case of the Origin header', async () => {
    process.env.CORS_ORIGINS = ALLOWED;
    const succeeds = httpFunction(async () => ({ statusCode: 200, body: { ok: true } }));
    const fails = httpFunction(async () => {
      throw new ApiError('session_revoked');
    });
    const ok = await succeeds(event(ALLOWED), lambdaContext('test'));
    const error = await fails(event(ALLOWED), lambdaContext('test'));
    const refused = await fails(event(DISALLOWED), lambdaContext('test'));

    expect(ok.headers?.['Access-Control-Allow-Origin']).toBe(ALLOWED);
    expect(ok.headers?.['Access-Control-Allow-Credentials']).toBe('true');
    expect(error.statusCode).toBe(401);
    expect(error.headers?.['Access-Control-Allow-Origin']).toBe(ALLOWED);
    expect(error.headers?.['Access-Control-Allow-Credentials']).toBe('true');
    expect(error.headers?.Vary).toBe('Origin');
    expect(refused.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    expect(refused.headers?.['Access-Control-Allow-Credentials']).toBeUndefined();
  });
});

describe('the CORS allow-list', () => {
  it('is empty when CORS_ORIGINS is unset or blank, and then adds no headers at all', () => {
    for (const value of [undefined, '', ' , ']) {
      expect(corsHeaders(parseCorsOrigins(value), ALLOWED)).toEqual({});
    }
  });

  it('refuses entries that are not bare origins', () => {
    for (const value of [
      'app.example.com',
      'https://app.example.com/',
      'https://app.example.com/path',
      '*',
    ]) {
      expect(() => parseCorsOrigins(value)).toThrow(/CORS_ORIGINS/);
    }
  });
});
