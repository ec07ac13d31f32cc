import {
  createHmac,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { signToken, verifyToken } from '../lib/tokens/jwt.ts';
import { generateSigningKey, parseKeyRing } from '../lib/tokens/keyring.ts';
import { compare, cpuNsPerCall, fmtNs, fmtRatio, type Row } from './measure.ts';

/**
 * The floor: the least an HS256 verify can do (HMAC over the signing input, base64url decode, JSON.parse,
 * constant-time compare) and its signing twin. Anything our library does beyond this is overhead.
 */
function floorVerify(key: KeyObject, token: string): unknown {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  const expected = createHmac('sha256', key).update(token.slice(0, dot2)).digest();
  const actual = Buffer.from(token.slice(dot2 + 1), 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
    throw new Error('bad signature');
  return JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'));
}

function floorSign(key: KeyObject, header: object, payload: object): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

export async function benchTokens(): Promise<Row[]> {
  const ring = parseKeyRing('bench-signing-key-0123456789-0123456789-abcdef');
  const key = ring.keys.get(ring.currentKid)?.signingKey as KeyObject;
  const aud = {
    issuer: 'auth-service',
    audience: 'auth-service-api',
    refreshAudience: 'auth-service/auth/refresh',
    clientId: 'auth-service-client',
  };
  const now = Math.floor(Date.now() / 1000);
  const input = { sub: randomUUID(), sid: randomUUID(), authTime: now, now, exp: now + 600 };
  const token = signToken(ring, 'access', input, aud);
  // Sanity: both accept the same token, so they are compared doing the same work.
  verifyToken(ring, 'access', token, aud, now);
  floorVerify(key, token);
  const header = { alg: 'HS256', typ: 'at+jwt', kid: ring.currentKid };
  const payload = () => ({
    sub: input.sub,
    sid: input.sid,
    jti: randomUUID(),
    iat: now,
    exp: input.exp,
    iss: aud.issuer,
    aud: aud.audience,
    token_use: 'access',
    auth_time: now,
    client_id: aud.clientId,
  });

  const iterations = 4000;
  for (let i = 0; i < 3000; i += 1) {
    verifyToken(ring, 'access', token, aud, now);
    floorVerify(key, token);
    signToken(ring, 'access', input, aud);
    floorSign(key, header, payload());
  }
  const verify = await compare(
    () => cpuNsPerCall(() => verifyToken(ring, 'access', token, aud, now), iterations),
    () => cpuNsPerCall(() => floorVerify(key, token), iterations),
    15,
  );
  const sign = await compare(
    () => cpuNsPerCall(() => signToken(ring, 'access', input, aud), iterations),
    () => cpuNsPerCall(() => floorSign(key, header, payload()), iterations),
    15,
  );
  return [
    {
      figure: 'token verify / HMAC floor (CPU)',
      value: `${fmtRatio(verify.ratio)} (${fmtNs(verify.subject)} vs ${fmtNs(verify.baseline)})`,
      budget: '<= 2.50x',
      met: verify.ratio <= 2.5,
    },
    {
      figure: 'token sign / HMAC floor (CPU)',
      value: `${fmtRatio(sign.ratio)} (${fmtNs(sign.subject)} vs ${fmtNs(sign.baseline)})`,
      budget: '<= 2.50x',
      met: sign.ratio <= 2.5,
    },
  ];
}

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * The floor of an ES256/RS256 verify: raw `crypto.verify` of the same signing input, plus the same parse and
 * claim checks our verifier makes (header alg/typ/kid, iss, aud, exp, iat, sub, sid, jti, token_use, client_id).
 */
function floorVerifyAsymmetric(
  publicKey: KeyObject,
  alg: 'ES256' | 'RS256',
  token: string,
  expected: { kid: string; iss: string; aud: string; clientId: string; now: number },
): unknown {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  const header = JSON.parse(Buffer.from(token.slice(0, dot1), 'base64url').toString('utf8'));
  if (header.alg !== alg || header.typ !== 'at+jwt' || header.kid !== expected.kid) throw new Error('header');
  const ok = cryptoVerify(
    'sha256',
    Buffer.from(token.slice(0, dot2)),
    alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey,
    Buffer.from(token.slice(dot2 + 1), 'base64url'),
  );
  if (!ok) throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'));
  if (
    claims.iss !== expected.iss ||
    claims.aud !== expected.aud ||
    claims.token_use !== 'access' ||
    typeof claims.sub !== 'string' ||
    typeof claims.sid !== 'string' ||
    typeof claims.jti !== 'string' ||
    typeof claims.client_id !== 'string' ||
    !Number.isSafeInteger(claims.exp) ||
    !Number.isSafeInteger(claims.iat) ||
    claims.iat > expected.now
  ) {
    throw new Error('claims');
  }
  return claims;
}

/** The floor of an ES256/RS256 sign: the same header and claims serialised, and raw `crypto.sign`. */
function floorSignAsymmetric(privateKey: KeyObject, alg: 'ES256' | 'RS256', header: object, payload: object) {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = cryptoSign(
    'sha256',
    Buffer.from(input),
    alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey,
  );
  return `${input}.${signature.toString('base64url')}`;
}

/** ES256 and RS256 sign and verify, through our jsonwebtoken path, against their raw node:crypto floors. */
export async function benchAsymmetricTokens(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const alg of ['ES256', 'RS256'] as const) {
    const ring = parseKeyRing(generateSigningKey(alg), alg);
    const key = ring.keys.get(ring.currentKid) as NonNullable<ReturnType<typeof ring.keys.get>>;
    const aud = {
      issuer: 'https://auth.example.com',
      audience: 'auth-service-api',
      refreshAudience: 'https://auth.example.com/auth/refresh',
      clientId: 'auth-service-client',
    };
    const now = Math.floor(Date.now() / 1000);
    const input = { sub: randomUUID(), sid: randomUUID(), authTime: now, now, exp: now + 600 };
    const token = signToken(ring, 'access', input, aud);
    const expected = {
      kid: ring.currentKid,
      iss: aud.issuer,
      aud: aud.audience,
      clientId: aud.clientId,
      now,
    };
    verifyToken(ring, 'access', token, aud, now);
    floorVerifyAsymmetric(key.verificationKey, alg, token, expected);
    const header = { alg, typ: 'at+jwt', kid: ring.currentKid };
    const payload = () => ({
      sub: input.sub,
      sid: input.sid,
      jti: randomUUID(),
      iat: now,
      exp: input.exp,
      iss: aud.issuer,
      aud: aud.audience,
      token_use: 'access',
      auth_time: now,
      client_id: aud.clientId,
    });
    // RSA signing is ~1 ms: fewer iterations keep the section short without changing the ratio.
    const iterations = alg === 'RS256' ? 200 : 1000;
    for (let i = 0; i < iterations; i += 1) {
      verifyToken(ring, 'access', token, aud, now);
      floorVerifyAsymmetric(key.verificationKey, alg, token, expected);
      signToken(ring, 'access', input, aud);
      floorSignAsymmetric(key.signingKey, alg, header, payload());
    }
    const verify = await compare(
      () => cpuNsPerCall(() => verifyToken(ring, 'access', token, aud, now), iterations),
      () => cpuNsPerCall(() => floorVerifyAsymmetric(key.verificationKey, alg, token, expected), iterations),
      11,
    );
    const sign = await compare(
      () => cpuNsPerCall(() => signToken(ring, 'access', input, aud), iterations),
      () => cpuNsPerCall(() => floorSignAsymmetric(key.signingKey, alg, header, payload()), iterations),
      11,
    );
    for (const [what, result] of [
      ['verify', verify],
      ['sign', sign],
    ] as const) {
      rows.push({
        figure: `token ${what} ${alg} / crypto.${what} floor`,
        value: `${fmtRatio(result.ratio)} (${fmtNs(result.subject)} vs ${fmtNs(result.baseline)})`,
        // The budget: 1.3x of a floor that does the same parse and claim checks. RS256 verify does not
        // meet it (1.28-1.53x measured in CPU time): the work jsonwebtoken does per call on top of those checks
        // is a third of a ~30 µs RSA verify. Printed as not met rather than hidden
        // behind a looser budget; meeting it means verifying without jsonwebtoken, which the issue keeps.
        budget: '<= 1.30x',
        met: result.ratio <= 1.3,
      });
    }
  }
  return rows;
}
