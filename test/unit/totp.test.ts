import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import {
  hashRecoveryCode,
  newRecoveryCodes,
  normaliseRecoveryCode,
  RECOVERY_CODE_COUNT,
} from '../../lib/mfa/recovery-codes.ts';
import { openTotpSecret, sealedUnderCurrentKey, sealTotpSecret } from '../../lib/mfa/secret-box.ts';
import {
  matchingTotpStep,
  newTotpSecret,
  otpauthUri,
  TOTP_PARAMETERS,
  totpCodeAt,
  totpStepAt,
} from '../../lib/mfa/totp.ts';
import { generateSigningKey, parseKeyRing } from '../../lib/tokens/keyring.ts';

/** RFC 6238 Appendix B: the SHA-1 seed (ASCII "12345678901234567890") and its 8-digit codes by Unix time. */
const RFC_SEED = Secret.fromLatin1('12345678901234567890').base32;
const RFC_VECTORS: [seconds: number, code8: string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP as configured (RFC 6238, SHA-1, 30 s, 6 digits)', () => {
  it.each(RFC_VECTORS)(
    'at %i s gives the RFC 6238 Appendix B code, truncated to 6 digits',
    (seconds, code8) => {
      const step = totpStepAt(seconds * 1000);
      expect(step).toBe(Math.floor(seconds / 30));
      // HOTP's dynamic truncation is the number mod 10^digits: the 6-digit code is the 8-digit one's last six.
      expect(totpCodeAt(RFC_SEED, step)).toBe(code8.slice(2));
      expect(matchingTotpStep(RFC_SEED, code8.slice(2), seconds * 1000, 0)).toBe(step);
      // The parameters the service uses are what an app reads from the URI: the library agrees with itself.
      const app = new TOTP({ ...TOTP_PARAMETERS, secret: Secret.fromBase32(RFC_SEED) });
      expect(app.generate({ timestamp: seconds * 1000 })).toBe(code8.slice(2));
    },
  );

  it('accepts the previous and the next step, and no further', () => {
    const now = 1_700_000_000_000;
    const step = totpStepAt(now);
    const secret = newTotpSecret();
    for (const delta of [-1, 0, 1])
      expect(matchingTotpStep(secret, totpCodeAt(secret, step + delta), now, 0)).toBe(step + delta);
    for (const delta of [-3, -2, 2, 3]) {
      const code = totpCodeAt(secret, step + delta);
      // A code of a far step may by chance equal a near step's (one in a million each): only then it matches.
      const near = [-1, 0, 1].some((d) => totpCodeAt(secret, step + d) === code);
      if (!near) expect(matchingTotpStep(secret, code, now, 0)).toBeUndefined();
    }
  });

  it('never accepts the last accepted step or an earlier one', () => {
    const now = 1_700_000_000_000;
    const step = totpStepAt(now);
    const secret = newTotpSecret();
    expect(matchingTotpStep(secret, totpCodeAt(secret, step), now, step)).toBeUndefined();
    expect(matchingTotpStep(secret, totpCodeAt(secret, step - 1), now, step - 1)).toBeUndefined();
    expect(matchingTotpStep(secret, totpCodeAt(secret, step + 1), now, step)).toBe(step + 1);
  });

  it('refuses anything but six digits, and tolerates spaces as typed', () => {
    const now = Date.now();
    const secret = newTotpSecret();
    const code = totpCodeAt(secret, totpStepAt(now));
    expect(matchingTotpStep(secret, `${code.slice(0, 3)} ${code.slice(3)}`, now, 0)).toBe(totpStepAt(now));
    for (const bad of ['', '12345', '1234567', 'abcdef', `${code}0`])
      expect(matchingTotpStep(secret, bad, now, 0)).toBeUndefined();
  });

  it('makes 160-bit secrets and an otpauth URI that apps read back to the same parameters', () => {
    const secret = newTotpSecret();
    expect(Secret.fromBase32(secret).bytes.length).toBe(20);
    expect(newTotpSecret()).not.toBe(secret);
    const uri = otpauthUri(secret, 'Example Co', 'alice');
    expect(uri.startsWith('otpauth://totp/Example%20Co:alice?')).toBe(true);
    const parsed = new URL(uri);
    expect(parsed.searchParams.get('secret')).toBe(secret);
    expect(parsed.searchParams.get('issuer')).toBe('Example Co');
    expect(parsed.searchParams.get('algorithm')).toBe('SHA1');
    expect(parsed.searchParams.get('digits')).toBe('6');
    expect(parsed.searchParams.get('period')).toBe('30');
  });
});

describe('recovery codes', () => {
  it('come ten at a time, distinct, of 120 random bits each, and are stored as a hash', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) {
      expect(code).toMatch(/^([a-z2-7]{4}-){5}[a-z2-7]{4}$/);
      // 24 base32 characters = 120 bits (ASVS 6.5.2: at least 112 bits for a fast hash).
      expect(normaliseRecoveryCode(code)).toHaveLength(24);
      expect(hashRecoveryCode(code)).not.toContain(normaliseRecoveryCode(code));
    }
  });

  it('match whatever the case, spaces and hyphens as typed; anything else is no code', () => {
    const [code = ''] = newRecoveryCodes();
    const typed = ` ${code.toUpperCase().replace(/-/g, ' ')} `;
    expect(hashRecoveryCode(typed)).toBe(hashRecoveryCode(code));
    expect(hashRecoveryCode(`${code}a`)).toBeUndefined();
    expect(hashRecoveryCode('123456')).toBeUndefined();
  });
});

describe('TOTP secrets at rest', () => {
  const ring = parseKeyRing(
    JSON.stringify({
      current: 'b',
      keys: { a: generateSigningKey('HS256'), b: generateSigningKey('HS256') },
    }),
  );

  it('are sealed under the ring, never in the clear, and open only for their user', () => {
    const secret = newTotpSecret();
    const sealed = sealTotpSecret(ring, 'user-1', secret);
    expect(sealed).not.toContain(secret);
    expect(sealed.startsWith('b.')).toBe(true);
    expect(openTotpSecret(ring, 'user-1', sealed)).toBe(secret);
    expect(openTotpSecret(ring, 'user-2', sealed)).toBeUndefined();
    expect(sealTotpSecret(ring, 'user-1', secret)).not.toBe(sealed);
  });

  it('do not open when tampered with, under an unknown key or without the ring', () => {
    const sealed = sealTotpSecret(ring, 'user-1', newTotpSecret());
    const last = sealed.at(-1) === 'A' ? 'B' : 'A';
    expect(openTotpSecret(ring, 'user-1', `${sealed.slice(0, -1)}${last}`)).toBeUndefined();
    expect(openTotpSecret(ring, 'user-1', sealed.replace(/^b\./, 'a.'))).toBeUndefined();
    expect(openTotpSecret(ring, 'user-1', sealed.replace(/^b\./, 'zz.'))).toBeUndefined();
    const otherRing = parseKeyRing(
      JSON.stringify({ current: 'b', keys: { b: generateSigningKey('HS256') } }),
    );
    expect(openTotpSecret(otherRing, 'user-1', sealed)).toBeUndefined();
    expect(openTotpSecret(ring, 'user-1', undefined)).toBeUndefined();
  });

  it('stay readable after a rotation while their key is in the ring, and say when to re-seal', () => {
    const keyA = generateSigningKey('HS256');
    const before = parseKeyRing(JSON.stringify({ current: 'a', keys: { a: keyA } }));
    const secret = newTotpSecret();
    const sealed = sealTotpSecret(before, 'user-1', secret);
    const after = parseKeyRing(
      JSON.stringify({
        current: 'c',
        keys: {
          a: keyA,
          c: generateSigningKey('HS256'),
        },
      }),
    );
    expect(openTotpSecret(after, 'user-1', sealed)).toBe(secret);
    expect(sealedUnderCurrentKey(after, sealed)).toBe(false);
    expect(sealedUnderCurrentKey(after, sealTotpSecret(after, 'user-1', secret))).toBe(true);
  });

  it('are sealed with ES256 and RS256 rings too', () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const asymmetric = parseKeyRing(generateSigningKey(alg), alg);
      const secret = newTotpSecret();
      expect(openTotpSecret(asymmetric, 'u', sealTotpSecret(asymmetric, 'u', secret))).toBe(secret);
    }
  });
});
