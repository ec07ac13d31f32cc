import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  hashRefreshToken,
  InvalidTokenError,
  MAX_TOKEN_LENGTH,
  signToken,
  verifyToken,
} from '../../lib/tokens/jwt.ts';
import { parseKeyRing } from '../../lib/tokens/keyring.ts';

const KEY_A = 'key-a-0123456789abcdefghijklmnopqrstuvwxyz';
const KEY_B = 'key-b-0123456789abcdefghijklmnopqrstuvwxyz';
const ring = parseKeyRing(JSON.stringify({ current: 'a', keys: { a: KEY_A } }));
const aud = { issuer: 'test-issuer', audience: 'test-audience' };
const NOW = 1_800_000_000;
const identity = { sub: 'user-1', sid: 'session-1', authTime: NOW, now: NOW, exp: NOW + 600 };

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Builds and signs a token by hand, so that every header and claim can be made hostile. */
function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  options: { key?: string; hash?: 'sha256' | 'sha384' | 'sha512'; signature?: string } = {},
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
