import { createHmac, type KeyObject, randomUUID, timingSafeEqual } from 'node:crypto';
import { signToken, verifyToken } from '../lib/tokens/jwt.ts';
import { parseKeyRing } from '../lib/tokens/keyring.ts';
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
