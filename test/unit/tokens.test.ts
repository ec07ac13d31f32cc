import {
  constants,
  createHmac,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hashRefreshToken,
  InvalidTokenError,
  MAX_TOKEN_LENGTH,
  signToken,
  verifyToken,
} from '../../lib/tokens/jwt.ts';
import { generateSigningKey, parseKeyRing } from '../../lib/tokens/keyring.ts';

const KEY_A = 'key-a-0123456789abcdefghijklmnopqrstuvwxyz';
const KEY_B = 'key-b-0123456789abcdefghijklmnopqrstuvwxyz';
const ring = parseKeyRing(JSON.stringify({ current: 'a', keys: { a: KEY_A } }));
const aud = {
  issuer: 'test-issuer',
  audience: 'test-audience',
  refreshAudience: 'test-issuer/auth/refresh',
  clientId: 'test-client',
};
const NOW = 1_800_000_000;
const identity = { sub: 'user-1', sid: 'session-1', authTime: NOW, now: NOW, exp: NOW + 600 };

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds and signs a token by hand, so that every header and claim can be made hostile. */
function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  options: { key?: string | Buffer; hash?: 'sha256' | 'sha384' | 'sha512'; signature?: string } = {},
): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature =
    options.signature ??
    createHmac(options.hash ?? 'sha256', options.key ?? KEY_A)
      .update(input)
      .digest('base64url');
  return `${input}.${signature}`;
}

const goodHeader = { alg: 'HS256', typ: 'at+jwt', kid: 'a' };
const goodClaims = {
  sub: 'user-1',
  sid: 'session-1',
  jti: 'jti-1',
  iat: NOW,
  exp: NOW + 600,
  iss: aud.issuer,
  aud: aud.audience,
  token_use: 'access',
  auth_time: NOW,
  client_id: 'test-client',
};

const verifyAccess = (token: unknown, now = NOW) => verifyToken(ring, 'access', token, aud, now);

describe('signing and verifying', () => {
  it('verifies a token it signed and returns its claims', () => {
    const token = signToken(ring, 'access', identity, aud);
    const { claims, expired } = verifyAccess(token);
    expect(expired).toBe(false);
    expect(claims).toMatchObject({
      sub: 'user-1',
      sid: 'session-1',
      token_use: 'access',
      iss: 'test-issuer',
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes the header of API.md: HS256, the token type and the key id', () => {
    const access = signToken(ring, 'access', identity, aud);
    const refresh = signToken(ring, 'refresh', identity, aud);
    const header = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString());
    expect(header(access)).toEqual({ alg: 'HS256', typ: 'at+jwt', kid: 'a' });
    expect(header(refresh)).toEqual({ alg: 'HS256', typ: 'rt+jwt', kid: 'a' });
  });

  it('gives every token a unique jti', () => {
    const first = verifyAccess(signToken(ring, 'access', identity, aud)).claims.jti;
    const second = verifyAccess(signToken(ring, 'access', identity, aud)).claims.jti;
    expect(first).not.toBe(second);
  });

  it('reports an expired but genuine token as expired instead of refusing it', () => {
    const token = signToken(ring, 'access', identity, aud);
    expect(verifyAccess(token, NOW + 600).expired).toBe(true);
    expect(verifyAccess(token, NOW + 599).expired).toBe(false);
  });

  it('accepts a hand-built token with every required claim (the forge helper is sound)', () => {
    expect(verifyAccess(forge(goodHeader, goodClaims)).claims.jti).toBe('jti-1');
  });
});

describe('refusing hostile and malformed tokens', () => {
  const refusals: [string, () => string | unknown][] = [
    ['alg none', () => forge({ ...goodHeader, alg: 'none' }, goodClaims, { signature: '' })],
    ['alg NONE in capitals', () => forge({ ...goodHeader, alg: 'NONE' }, goodClaims, { signature: '' })],
    ['alg nOnE in mixed case', () => forge({ ...goodHeader, alg: 'nOnE' }, goodClaims, { signature: '' })],
    [
      'HS384 with the right key',
      () => forge({ ...goodHeader, alg: 'HS384' }, goodClaims, { hash: 'sha384' }),
    ],
    [
      'HS512 with the right key',
      () => forge({ ...goodHeader, alg: 'HS512' }, goodClaims, { hash: 'sha512' }),
    ],
    [
      'a tampered payload',
      () => {
        const [header, , signature] = forge(goodHeader, goodClaims).split('.');
        return `${header}.${b64url({ ...goodClaims, sub: 'admin' })}.${signature}`;
      },
    ],
    ['a stripped signature', () => forge(goodHeader, goodClaims, { signature: '' })],
    ['a signature made with another key', () => forge(goodHeader, goodClaims, { key: KEY_B })],
    ['a wrong issuer', () => forge(goodHeader, { ...goodClaims, iss: 'someone-else' })],
    ['a wrong audience', () => forge(goodHeader, { ...goodClaims, aud: 'another-api' })],
    [
      'a refresh typ where an access token is expected',
      () => forge({ ...goodHeader, typ: 'rt+jwt' }, goodClaims),
    ],
    ['a missing typ', () => forge({ alg: 'HS256', kid: 'a' }, goodClaims)],
    [
      'token_use refresh in an access token',
      () => forge(goodHeader, { ...goodClaims, token_use: 'refresh' }),
    ],
    ['no exp', () => forge(goodHeader, { ...goodClaims, exp: undefined })],
    ['no iat', () => forge(goodHeader, { ...goodClaims, iat: undefined })],
    ['an iat in the future', () => forge(goodHeader, { ...goodClaims, iat: NOW + 60 })],
    ['no jti', () => forge(goodHeader, { ...goodClaims, jti: undefined })],
    ['no sid', () => forge(goodHeader, { ...goodClaims, sid: undefined })],
    ['no client_id in an access token', () => forge(goodHeader, { ...goodClaims, client_id: undefined })],
    [
      'the refresh audience in an access token',
      () => forge(goodHeader, { ...goodClaims, aud: aud.refreshAudience }),
    ],
    ['an empty sub', () => forge(goodHeader, { ...goodClaims, sub: '' })],
    ['a numeric sub', () => forge(goodHeader, { ...goodClaims, sub: 42 })],
    ['an unknown kid', () => forge({ ...goodHeader, kid: 'z' }, goodClaims)],
    ['a path-like kid', () => forge({ ...goodHeader, kid: '../../etc/passwd' }, goodClaims)],
    ['a prototype kid', () => forge({ ...goodHeader, kid: '__proto__' }, goodClaims)],
    ['no kid', () => forge({ alg: 'HS256', typ: 'at+jwt' }, goodClaims)],
    ['a critical header extension', () => forge({ ...goodHeader, crit: ['exp'] }, goodClaims)],
    [
      'a jku header pointing at an attacker key',
      () =>
        forge({ ...goodHeader, kid: 'evil', jku: 'https://attacker.example/jwks.json' }, goodClaims, {
          key: KEY_B,
        }),
    ],
    ['a not-yet-valid nbf', () => forge(goodHeader, { ...goodClaims, nbf: NOW + 60 })],
    ['an oversized token', () => forge(goodHeader, { ...goodClaims, padding: 'x'.repeat(MAX_TOKEN_LENGTH) })],
    ['garbage', () => 'not.a.jwt'],
    ['an empty string', () => ''],
    ['a number', () => 12345],
  ];

  it.each(refusals)('refuses %s', (_name, make) => {
    expect(() => verifyAccess(make())).toThrow(InvalidTokenError);
  });

  it('refuses a refresh token where an access token is expected, and the reverse', () => {
    const refresh = signToken(ring, 'refresh', identity, aud);
    const access = signToken(ring, 'access', identity, aud);
    expect(() => verifyAccess(refresh)).toThrow(InvalidTokenError);
    expect(() => verifyToken(ring, 'refresh', access, aud, NOW)).toThrow(InvalidTokenError);
  });

  it('refuses an oversized token without parsing it', () => {
    // Not even base64: if it were parsed, the error would come from the parser, not the length check.
    expect(() => verifyAccess('!'.repeat(MAX_TOKEN_LENGTH + 1))).toThrow('token missing or too long');
  });
});

describe('key rotation', () => {
  const rotated = parseKeyRing(JSON.stringify({ current: 'b', keys: { a: KEY_A, b: KEY_B } }));

  it('still verifies tokens of the previous kid while its key is in the ring', () => {
    const old = signToken(ring, 'access', identity, aud);
    expect(verifyToken(rotated, 'access', old, aud, NOW).claims.sub).toBe('user-1');
  });

  it('signs new tokens with the current kid', () => {
    const fresh = signToken(rotated, 'access', identity, aud);
    expect(JSON.parse(Buffer.from(fresh.split('.')[0] ?? '', 'base64url').toString()).kid).toBe('b');
    expect(() => verifyAccess(fresh)).toThrow(InvalidTokenError);
  });

  it('refuses tokens of a kid once its key has left the ring', () => {
    const old = signToken(ring, 'access', identity, aud);
    const onlyB = parseKeyRing(JSON.stringify({ current: 'b', keys: { b: KEY_B } }));
    expect(() => verifyToken(onlyB, 'access', old, aud, NOW)).toThrow(InvalidTokenError);
  });
});

describe('refresh-token hashing', () => {
  it('is deterministic, differs per token and does not contain the token', () => {
    const token = signToken(ring, 'refresh', identity, aud);
    expect(hashRefreshToken(token)).toBe(hashRefreshToken(token));
    expect(hashRefreshToken(token)).not.toBe(hashRefreshToken(signToken(ring, 'refresh', identity, aud)));
    expect(hashRefreshToken(token)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('the claims of each kind', () => {
  it('gives access tokens client_id and the access audience, refresh tokens another audience and no client_id', () => {
    const access = verifyAccess(signToken(ring, 'access', identity, aud)).claims;
    const refresh = verifyToken(ring, 'refresh', signToken(ring, 'refresh', identity, aud), aud, NOW).claims;
    expect(access).toMatchObject({ aud: 'test-audience', client_id: 'test-client' });
    expect(refresh.aud).toBe('test-issuer/auth/refresh');
    expect(refresh.aud).not.toBe(access.aud);
    expect(refresh).not.toHaveProperty('client_id');
  });

  it('adds further access claims, which can never replace a registered one', () => {
    const token = signToken(
      ring,
      'access',
      { ...identity, accessClaims: { roles: ['admin'], sub: 'someone-else', token_use: 'refresh' } },
      aud,
    );
    const { claims } = verifyAccess(token);
    expect(claims).toMatchObject({ roles: ['admin'], sub: 'user-1', token_use: 'access' });
    const refresh = signToken(ring, 'refresh', { ...identity, accessClaims: { roles: ['admin'] } }, aud);
    expect(verifyToken(ring, 'refresh', refresh, aud, NOW).claims).not.toHaveProperty('roles');
  });

  it('refuses a refresh token that carries the access audience', () => {
    const token = forge(
      { ...goodHeader, typ: 'rt+jwt' },
      { ...goodClaims, token_use: 'refresh', client_id: undefined },
    );
    expect(() => verifyToken(ring, 'refresh', token, aud, NOW)).toThrow(InvalidTokenError);
    const right = forge(
      { ...goodHeader, typ: 'rt+jwt' },
      { ...goodClaims, token_use: 'refresh', aud: aud.refreshAudience },
    );
    expect(verifyToken(ring, 'refresh', right, aud, NOW).claims.token_use).toBe('refresh');
  });
});

describe.each(['ES256', 'RS256'] as const)('%s keys', (algorithm) => {
  const pemA = generateSigningKey(algorithm);
  const pemB = generateSigningKey(algorithm);
  const asymmetric = parseKeyRing(JSON.stringify({ current: 'a', keys: { a: pemA, b: pemB } }), algorithm);
  const publicPem = createPublicKey(pemA).export({ type: 'spki', format: 'pem' }) as string;
  const claims = { ...goodClaims };
  const sign = (header: Record<string, unknown>, body: Record<string, unknown>, key = pemA) => {
    const input = `${b64url(header)}.${b64url(body)}`;
    const signature = cryptoSign('sha256', Buffer.from(input), {
      key,
      ...(algorithm === 'ES256' && { dsaEncoding: 'ieee-p1363' as const }),
    }).toString('base64url');
    return `${input}.${signature}`;
  };
  const verify = (token: unknown) => verifyToken(asymmetric, 'access', token, aud, NOW);

  it(`signs with ${algorithm} and the current kid, and verifies with the public key`, () => {
    const token = signToken(asymmetric, 'access', identity, aud);
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString());
    expect(header).toEqual({ alg: algorithm, typ: 'at+jwt', kid: 'a' });
    expect(verify(token).claims.sub).toBe('user-1');
    // The signature checks out with nothing but the public key (what a third party has).
    const [h, p, sig] = token.split('.') as [string, string, string];
    expect(
      cryptoVerify(
        'sha256',
        Buffer.from(`${h}.${p}`),
        { key: publicPem, ...(algorithm === 'ES256' && { dsaEncoding: 'ieee-p1363' as const }) },
        Buffer.from(sig, 'base64url'),
      ),
    ).toBe(true);
  });

  it('accepts a hand-built token signed with the private key (the helper is sound)', () => {
    expect(verify(sign({ alg: algorithm, typ: 'at+jwt', kid: 'a' }, claims)).claims.jti).toBe('jti-1');
  });

  it('refuses the HS256 confusion token: an HMAC keyed with the public key, in any form it is published', () => {
    const jwk = JSON.stringify(asymmetric.keys.get('a')?.publicJwk);
    const der = createPublicKey(pemA).export({ type: 'spki', format: 'der' });
    for (const secret of [publicPem, publicPem.trim(), jwk, der]) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const token = forge({ alg, typ: 'at+jwt', kid: 'a' }, claims, {
          key: secret as string,
          hash: `sha${alg.slice(2)}` as 'sha256',
        });
        expect(() => verify(token), `${alg} keyed with ${typeof secret}`).toThrow(InvalidTokenError);
      }
    }
  });

  it('refuses alg none and the other asymmetric algorithm', () => {
    expect(() => verify(forge({ alg: 'none', typ: 'at+jwt', kid: 'a' }, claims, { signature: '' }))).toThrow(
      InvalidTokenError,
    );
    const other = algorithm === 'ES256' ? 'RS256' : 'ES256';
    expect(() => verify(sign({ alg: other, typ: 'at+jwt', kid: 'a' }, claims))).toThrow(InvalidTokenError);
  });

  // The algorithm pin (RFC 8725 §3.1): the ring's one algorithm, never another one the same key can make. Each
  // row is a genuine signature by the ring's own key under a sibling algorithm, which jsonwebtoken accepts for
  // this key type unless `algorithms` is pinned.
  const siblings: Record<
    typeof algorithm,
    [string, 'sha256' | 'sha384' | 'sha512', 'pkcs1' | 'pss' | 'ecdsa'][]
  > = {
    ES256: [
      ['ES384', 'sha384', 'ecdsa'],
      ['ES512', 'sha512', 'ecdsa'],
    ],
    RS256: [
      ['RS384', 'sha384', 'pkcs1'],
      ['RS512', 'sha512', 'pkcs1'],
      ['PS256', 'sha256', 'pss'],
      ['PS384', 'sha384', 'pss'],
      ['PS512', 'sha512', 'pss'],
    ],
  };
  it.each(siblings[algorithm])(
    'refuses %s made with the ring’s own key (the algorithm is pinned)',
    (alg, hash, scheme) => {
      const input = `${b64url({ alg, typ: 'at+jwt', kid: 'a' })}.${b64url(claims)}`;
      const signature = cryptoSign(hash, Buffer.from(input), {
        key: pemA,
        ...(scheme === 'ecdsa' && { dsaEncoding: 'ieee-p1363' as const }),
        ...(scheme === 'pss' && {
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }),
      }).toString('base64url');
      expect(() => verify(`${input}.${signature}`)).toThrow(InvalidTokenError);
    },
  );

  it('refuses a token signed by a key that is not the one its kid names', () => {
    expect(() => verify(sign({ alg: algorithm, typ: 'at+jwt', kid: 'a' }, claims, pemB))).toThrow(
      InvalidTokenError,
    );
    expect(() =>
      verify(sign({ alg: algorithm, typ: 'at+jwt', kid: 'a' }, claims, generateSigningKey(algorithm))),
    ).toThrow(InvalidTokenError);
  });

  it('refuses tokens of a kid once its key has left the ring, and verifies those of the previous kid before', () => {
    const old = signToken(asymmetric, 'access', identity, aud);
    const rotated = parseKeyRing(JSON.stringify({ current: 'b', keys: { a: pemA, b: pemB } }), algorithm);
    expect(verifyToken(rotated, 'access', old, aud, NOW).claims.sub).toBe('user-1');
    const dropped = parseKeyRing(JSON.stringify({ current: 'b', keys: { b: pemB } }), algorithm);
    expect(() => verifyToken(dropped, 'access', old, aud, NOW)).toThrow(InvalidTokenError);
  });

  it('never accepts an HS256 token in an asymmetric ring, nor an asymmetric token in an HS256 ring', () => {
    const hs = signToken(ring, 'access', identity, aud);
    expect(() => verify(hs)).toThrow(InvalidTokenError);
    const asym = signToken(asymmetric, 'access', identity, aud);
    expect(() => verifyAccess(asym)).toThrow(InvalidTokenError);
  });
});
