import { createHmac, createPublicKey } from 'node:crypto';
import { JwtVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config.ts';
import { signToken } from '../../lib/tokens/jwt.ts';
import { generateSigningKey, parseKeyRing, type SigningAlgorithm } from '../../lib/tokens/keyring.ts';
import { audienceOf } from '../../lib/tokens/pair.ts';
import { type HttpTestService, headerOf, startHttpTestService } from './service.ts';

/**
 * aws-jwt-verify's own fetcher speaks HTTPS only (as it should in production); the local server is plain HTTP
 * on loopback, so the verifier is given a fetcher over `fetch`. Its verification is untouched.
 */
const loopbackFetcher: Fetcher = {
  async fetch(uri) {
    const response = await fetch(uri);
    if (response.status !== 200) throw new Error(`${uri}: ${response.status}`);
    return response.arrayBuffer();
  },
};

interface Discovery {
  issuer: string;
  jwks_uri: string;
  id_token_signing_alg_values_supported: string[];
}

/** The two third-party verifiers, each configured from the discovery document alone, as a downstream service would. */
function verifiersFor(discovery: Discovery, audience: string) {
  const aws = JwtVerifier.create(
    { issuer: discovery.issuer, jwksUri: discovery.jwks_uri, audience },
    { jwksCache: new SimpleJwksCache({ fetcher: loopbackFetcher }) },
  );
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const options = {
    issuer: discovery.issuer,
    audience,
    algorithms: discovery.id_token_signing_alg_values_supported,
  };
  return {
    aws: (token: string) => aws.verify(token),
    jose: (token: string) => jwtVerify(token, jwks, options),
  };
}

const KEY_CACHE_MAX_AGE = 1;

/**
 * The interoperability proof for one algorithm, against the whole local service: aws-jwt-verify and jose, each
 * configured from the issuer URL alone, accept what the service issues as an access token and nothing else.
 */
export function describeThirdPartyVerifiers(algorithm: Exclude<SigningAlgorithm, 'HS256'>): void {
  // A ring as secret:init makes it: a current key and a staged one, which verifiers see before it signs.
  const keys = {
    k1: generateSigningKey(algorithm),
    k2: generateSigningKey(algorithm),
    k3: generateSigningKey(algorithm),
    k4: generateSigningKey(algorithm),
  };
  const ringOf = (current: string, ...kids: (keyof typeof keys)[]) =>
    JSON.stringify({ current, keys: Object.fromEntries(kids.map((kid) => [kid, keys[kid]])) });

  let service: HttpTestService;
  let discovery: Discovery;
  let verifiers: ReturnType<typeof verifiersFor>;
  let audience: string;
  const parameterName = '/auth-service/jwt-signing-keys';

  beforeAll(async () => {
    service = await startHttpTestService(
      {
        SIGNING_ALG: algorithm,
        KEY_CACHE_MAX_AGE: String(KEY_CACHE_MAX_AGE),
        JWT_SECRET_PARAM: parameterName,
      },
      { jwtSecret: ringOf('k1', 'k1', 'k2') },
    );
    audience = loadConfig().audience;
    const response = await fetch(`${service.url}/.well-known/openid-configuration`);
    discovery = (await response.json()) as Discovery;
    verifiers = verifiersFor(discovery, audience);
  });
  afterAll(() => service?.close());

  /** Logs in until the service signs with `kid` (it reads the ring again once its cache has expired). */
  async function tokensSignedWith(username: string, kid: string) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const login = await service.login(username);
      expect(login.status).toBe(200);
      if (headerOf(login.json.accessToken).kid === kid) return login.json;
      if (Date.now() > deadline) throw new Error(`the service never signed with ${kid}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function expectBothRefuse(token: string, fresh = verifiers) {
    await expect(fresh.aws(token)).rejects.toThrow();
    await expect(fresh.jose(token)).rejects.toThrow();
  }

  describe(`${algorithm}: third-party verifiers configured from the issuer URL alone`, () => {
    it('finds the keys from the issuer: oauth4webapi accepts the discovery document for that issuer', async () => {
      const issuer = new URL(discovery.issuer);
      expect(discovery.issuer).toBe(service.url);
      const response = await oauth.discoveryRequest(issuer, {
        algorithm: 'oidc',
        // Loopback HTTP in the test; on AWS the issuer is the https stage URL.
        [oauth.allowInsecureRequests]: true,
      });
      const metadata = await oauth.processDiscoveryResponse(issuer, response);
      expect(metadata).toMatchObject({
        issuer: service.url,
        jwks_uri: `${service.url}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: [algorithm],
        subject_types_supported: ['public'],
      });
      expect(metadata.response_types_supported).toBeInstanceOf(Array);
      // A document that names another issuer is refused (so the check above can fail).
      await expect(
        oauth.processDiscoveryResponse(
          new URL('https://someone-else.example'),
          await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: true }),
        ),
      ).rejects.toThrow();
    });

    it('serves both documents without a token, cacheable for at most 5 minutes, with public members only', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/jwks.json']) {
        const response = await service.request('GET', path);
        expect(response.status, path).toBe(200);
        const maxAge = Number(/max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1]);
        expect(maxAge, path).toBeGreaterThan(0);
        expect(maxAge, path).toBeLessThanOrEqual(300);
        expect(response.headers.get('cache-control')).not.toContain('no-store');
      }
      const { json } = await service.request('GET', '/.well-known/jwks.json');
      expect(json.keys.map((key: { kid: string }) => key.kid)).toEqual(['k1', 'k2']);
      for (const jwk of json.keys) {
        expect(jwk).toMatchObject({ alg: algorithm, use: 'sig', kty: algorithm === 'ES256' ? 'EC' : 'RSA' });
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(jwk).not.toHaveProperty(member);
      }
    });

    it('both accept a fresh access token, and see its claims', async () => {
      const tokens = await service.signUp(`interop-${algorithm}-fresh`);
      const aws = await verifiers.aws(tokens.accessToken);
      const jose = await verifiers.jose(tokens.accessToken);
      for (const claims of [aws, jose.payload]) {
        expect(claims).toMatchObject({ token_use: 'access', iss: service.url, aud: audience });
        expect(typeof claims.client_id).toBe('string');
      }
      expect(jose.protectedHeader).toMatchObject({ alg: algorithm, typ: 'at+jwt', kid: 'k1' });
    });

    it('both refuse a refresh token (its aud is not the access audience)', async () => {
      const tokens = await service.signUp(`interop-${algorithm}-refresh`);
      await expectBothRefuse(tokens.refreshToken);
    });

    it('both refuse an expired access token signed with the current key', async () => {
      const login = await service.signUp(`interop-${algorithm}-expired`);
      const { sub, sid } = JSON.parse(
        Buffer.from(login.accessToken.split('.')[1] ?? '', 'base64url').toString(),
      );
      const ring = parseKeyRing(ringOf('k1', 'k1', 'k2'), algorithm);
      const past = Math.floor(Date.now() / 1000) - 3600;
      const expired = signToken(
        ring,
        'access',
        { sub, sid, authTime: past, now: past, exp: past + 600 },
        audienceOf(loadConfig()),
      );
      // The same token, unexpired, is accepted: the refusal below is for the expiry alone.
      const live = signToken(
        ring,
        'access',
        { sub, sid, authTime: past, now: past, exp: past + 7200 },
        audienceOf(loadConfig()),
      );
      await verifiers.aws(live);
      await verifiers.jose(live);
      await expectBothRefuse(expired);
    });

    it('both refuse the HS256 token keyed with the published public key (algorithm confusion), as does the service', async () => {
      const tokens = await service.signUp(`interop-${algorithm}-confusion`);
      const [, payload] = tokens.accessToken.split('.') as [string, string];
      const { json } = await service.request('GET', '/.well-known/jwks.json');
      const publicPem = createPublicKey({ key: json.keys[0], format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      }) as string;
      for (const secret of [publicPem, JSON.stringify(json.keys[0])]) {
        const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' })).toString(
          'base64url',
        );
        const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
        const forged = `${header}.${payload}.${signature}`;
        await expectBothRefuse(forged);
        expect((await service.me(forged)).status).toBe(401);
      }
    });

    it('both pick up a key rotation without a restart, and refuse a key once it has left the ring', async () => {
      const username = `interop-${algorithm}-rotation`;
      const before = await service.signUp(username);
      expect(headerOf(before.accessToken).kid).toBe('k1');
      await verifiers.aws(before.accessToken);

      // secret:rotate: the staged k2 signs, k1 still verifies, k3 is staged.
      service.server.ssm.setParameter(parameterName, ringOf('k2', 'k1', 'k2', 'k3'));
      const rotated = await tokensSignedWith(username, 'k2');
      for (const token of [rotated.accessToken, before.accessToken]) {
        await verifiers.aws(token);
        await verifiers.jose(token);
      }
      expect((await service.me(before.accessToken)).status).toBe(200);

      // The next rotation drops k1: the JWKS no longer lists it, and a verifier that reads it refuses k1's tokens.
      service.server.ssm.setParameter(parameterName, ringOf('k3', 'k2', 'k3', 'k4'));
      const again = await tokensSignedWith(username, 'k3');
      const { json } = await service.request('GET', '/.well-known/jwks.json');
      expect(json.keys.map((key: { kid: string }) => key.kid)).toEqual(['k2', 'k3', 'k4']);
      const fresh = verifiersFor(discovery, audience);
      await fresh.aws(again.accessToken);
      await fresh.jose(again.accessToken);
      await expectBothRefuse(before.accessToken, fresh);
      // The authorizer keeps its own copy of the ring (at most KEY_CACHE_MAX_AGE old): it refuses k1 once it
      // has read the ring again, which may be after the login above already signed with k3.
      await expect
        .poll(async () => (await service.me(before.accessToken)).status, { timeout: 15_000 })
        .toBe(401);
    });
  });
}
