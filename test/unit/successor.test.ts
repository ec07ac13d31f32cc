import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { hashRefreshToken } from '../../lib/tokens/jwt.ts';
import { generateSigningKey, parseKeyRing, type SigningAlgorithm } from '../../lib/tokens/keyring.ts';
import { mintPair } from '../../lib/tokens/pair.ts';
import { openSuccessorPair, type SuccessorContext, sealSuccessorPair } from '../../lib/tokens/successor.ts';

const audience = {
  issuer: 'https://auth.example.com',
  audience: 'auth-service-api',
  refreshAudience: 'https://auth.example.com/auth/refresh',
  clientId: 'auth-service-client',
};
const config = {
  ...audience,
  accessTokenTtl: 600,
  refreshTokenTtl: 86400,
  sessionMaxAge: 86400 * 30,
} as never;
const context = (algorithm: string): SuccessorContext => ({
  sid: '664ed8dc-16c2-4cb0-922f-ae2c66662b01',
  userId: '95c268e2-0520-4bc4-94ad-5d6736e7720e',
  authTime: 1_796_172_350,
  algorithm,
  audience,
});

function pairFor(algorithm: SigningAlgorithm, roles: string[] = []) {
  const ring = parseKeyRing(
    algorithm === 'HS256' ? 'unit-test-signing-key-0123456789-0123456789' : generateSigningKey(algorithm),
    algorithm,
  );
  const ctx = context(algorithm);
  const identity = { userId: ctx.userId, sid: ctx.sid, authTime: ctx.authTime, roles };
  const previous = mintPair(config, ring, identity, ctx.authTime);
  const next = mintPair(config, ring, identity, ctx.authTime + 60);
  return {
    ctx,
    next,
    presented: { refreshToken: previous.refreshToken, hash: hashRefreshToken(previous.refreshToken) },
  };
}

/** A pair sealed as the previous version of the service did (format 1: the token strings, deflated). */
function sealFormat1(
  pair: ReturnType<typeof pairFor>['next'],
  presented: { refreshToken: string; hash: string },
  sid: string,
) {
  const key = Buffer.from(
    hkdfSync('sha256', presented.refreshToken, sid, 'lambda-token-auth refresh successor pair v1', 32),
  );
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`${sid}\n${presented.hash}`));
  const plaintext = deflateRawSync(
    JSON.stringify([pair.accessToken, pair.refreshToken, pair.accessExp, pair.refreshExp]),
  );
  return Buffer.concat([Buffer.of(1), iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

describe('the sealed successor pair', () => {
  it.each(['HS256', 'ES256', 'RS256'] as const)(
    'opens to the very same %s token strings and expiries it sealed, roles included',
    (algorithm) => {
      const { ctx, next, presented } = pairFor(algorithm, ['admin', 'support']);
      const sealed = sealSuccessorPair(next, presented, ctx);
      expect(sealed[0]).toBe(2);
      expect(openSuccessorPair(sealed, presented, ctx)).toEqual({
        accessToken: next.accessToken,
        refreshToken: next.refreshToken,
        accessExp: next.accessExp,
        refreshExp: next.refreshExp,
      });
    },
  );

  it('is at most 0.25 KB for an HS256 pair and 0.3 KB for ES256, less than 40% of the two tokens as text', () => {
    for (const [algorithm, bound] of [
      ['HS256', 256],
      ['ES256', 320],
    ] as const) {
      const { ctx, next, presented } = pairFor(algorithm);
      const sealed = sealSuccessorPair(next, presented, ctx);
      expect(sealed.byteLength).toBeLessThanOrEqual(bound);
      expect(sealed.byteLength).toBeLessThan((next.accessToken.length + next.refreshToken.length) / 2.5);
    }
  });

  it('still opens a pair sealed by the previous version (format 1), so a rotation made across a deploy is answered again', () => {
    const { ctx, next, presented } = pairFor('HS256');
    const sealed = sealFormat1(next, presented, ctx.sid);
    expect(openSuccessorPair(sealed, presented, ctx)).toMatchObject({
      accessToken: next.accessToken,
      refreshToken: next.refreshToken,
    });
    expect(openSuccessorPair(sealed, presented, { ...ctx, sid: 'another-session' })).toBeUndefined();
  });

  it('seals tokens whose parts do not decode canonically in format 1, and opens them the same', () => {
    const { ctx, next, presented } = pairFor('HS256');
    // The last character of an HS256 signature carries two padding bits: flipping the lowest one decodes to the
    // same bytes, so the parts would rebuild another string.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(next.accessToken.at(-1) as string);
    const odd = { ...next, accessToken: `${next.accessToken.slice(0, -1)}${alphabet[last ^ 1]}` };
    expect(Buffer.from(odd.accessToken.split('.')[2] as string, 'base64url')).toEqual(
      Buffer.from(next.accessToken.split('.')[2] as string, 'base64url'),
    );
    const sealed = sealSuccessorPair(odd, presented, ctx);
    expect(sealed[0]).toBe(1);
    expect(openSuccessorPair(sealed, presented, ctx)?.accessToken).toBe(odd.accessToken);
  });
});
