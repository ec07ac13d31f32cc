import { describe, expect, it } from 'vitest';
import {
  stepUpChallenge,
  stepUpQualifier,
  stepUpRulesOf,
  stepUpShortfall,
} from '../../lib/tokens/step-up.ts';

const arn = (qualifier?: string) =>
  `arn:aws:lambda:eu-west-1:111122223333:function:auth-authorizer${qualifier ? `:${qualifier}` : ''}`;

describe('step-up rules (RFC 9470)', () => {
  const now = 1_800_000_000;
  const mfa = ['pwd', 'otp', 'mfa'];

  it('pass a login that meets them, with the age bound inclusive', () => {
    expect(
      stepUpShortfall({ amr: mfa, authTime: now - 900 }, { requireMfa: true, maxAuthAge: 900 }, now),
    ).toBeUndefined();
    expect(stepUpShortfall({ amr: ['pwd'], authTime: now - 10 }, {}, now)).toBeUndefined();
  });

  it('refuse a password-only login where a second factor is required, without max_age', () => {
    const shortfall = stepUpShortfall(
      { amr: ['pwd'], authTime: now },
      { requireMfa: true, maxAuthAge: 900 },
      now,
    );
    expect(shortfall?.maxAge).toBeUndefined();
    expect(stepUpChallenge(shortfall as never)).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A sign-in with a second factor is required; sign in again"',
    );
  });

  it('refuse a login older than maxAuthAge with max_age, and name both reasons when both apply', () => {
    const old = stepUpShortfall(
      { amr: mfa, authTime: now - 901 },
      { requireMfa: true, maxAuthAge: 900 },
      now,
    );
    expect(stepUpChallenge(old as never)).toMatch(
      /^Bearer error="insufficient_user_authentication", error_description="[^"\\]+", max_age=900$/,
    );
    const both = stepUpShortfall(
      { amr: ['pwd'], authTime: now - 901 },
      { requireMfa: true, maxAuthAge: 900 },
      now,
    );
    expect(both?.description).toMatch(/second factor.*900 seconds/);
    expect(both?.maxAge).toBe(900);
  });

  it('travel as an alias name and back, and nothing else reads as rules', () => {
    for (const rules of [
      { requireMfa: true, maxAuthAge: 900 },
      { requireMfa: true },
      { maxAuthAge: 0 },
      { maxAuthAge: 86400 },
    ]) {
      expect(stepUpRulesOf(arn(stepUpQualifier(rules)))).toEqual(rules);
    }
    expect(stepUpQualifier({})).toBeUndefined();
    expect(stepUpQualifier({ requireMfa: false })).toBeUndefined();
    expect(() => stepUpQualifier({ maxAuthAge: -1 })).toThrow(/maxAuthAge/);
    expect(() => stepUpQualifier({ maxAuthAge: 1.5 })).toThrow(/maxAuthAge/);
    for (const other of [
      undefined,
      arn(),
      arn('live'),
      arn('7'),
      arn('step-up'),
      arn('step-up-age'),
      arn('step-up-mfa-age9x'),
    ])
      expect(stepUpRulesOf(other)).toBeUndefined();
  });
});
