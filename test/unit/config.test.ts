import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';

describe('token configuration', () => {
  it('defaults to HS256, with a refresh audience that differs from the access audience', () => {
    const config = loadConfig({});
    expect(config.signingAlg).toBe('HS256');
    expect(config.refreshAudience).not.toBe(config.audience);
    expect(config.refreshAudience).toBe(`${config.issuer}/auth/refresh`);
    expect(config.clientId).toBe('auth-service-client');
  });

  it('refuses an unknown SIGNING_ALG, including a lowercase or "none"', () => {
    for (const alg of ['none', 'es256', 'HS512', 'PS256']) {
      expect(() => loadConfig({ SIGNING_ALG: alg }), alg).toThrow(/SIGNING_ALG must be one of/);
    }
  });

  it('with ES256 or RS256 requires an issuer URL without trailing slash, query or fragment', () => {
    expect(loadConfig({ SIGNING_ALG: 'ES256', JWT_ISSUER: 'https://auth.example.com/prod' }).issuer).toBe(
      'https://auth.example.com/prod',
    );
    for (const issuer of [
      'auth-service',
      'https://auth.example.com/',
      'https://a.example?x=1',
      'ftp://a.example',
    ]) {
      expect(() => loadConfig({ SIGNING_ALG: 'RS256', JWT_ISSUER: issuer }), issuer).toThrow(/JWT_ISSUER/);
    }
  });

  it('refuses an access audience equal to the refresh audience', () => {
    expect(() =>
      loadConfig({ JWT_ISSUER: 'https://a.example', JWT_AUDIENCE: 'https://a.example/auth/refresh' }),
    ).toThrow(/JWT_AUDIENCE/);
  });
});

describe('DynamoDB timeouts of the local server (DYNAMODB_REQUEST_TIMEOUT_MS, DYNAMODB_CONNECTION_TIMEOUT_MS)', () => {
  it('take a whole number of milliseconds >= 1, and fail the cold start on anything else', async () => {
    const { createServices } = await import('../../lib/services.ts');
    for (const name of ['DYNAMODB_REQUEST_TIMEOUT_MS', 'DYNAMODB_CONNECTION_TIMEOUT_MS']) {
      expect(() => createServices({ [name]: '15000' }), name).not.toThrow();
      for (const bad of ['0', '-5', '1.5', 'soon'])
        expect(() => createServices({ [name]: bad }), `${name}=${bad}`).toThrow(
          `${name} must be a whole number >= 1`,
        );
    }
  });
});
