import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { JsonBody } from '../http/input.ts';
import { hashRecoveryCode } from '../mfa/recovery-codes.ts';
import { openTotpSecret, sealedUnderCurrentKey, sealTotpSecret } from '../mfa/secret-box.ts';
import { matchingTotpStep } from '../mfa/totp.ts';
import { logEvent } from '../observability/log.ts';
import type { Services } from '../services.ts';
import { type SecondFactorMethod, secondFactorsOf } from '../store/second-factors.ts';
import { type AmrValue, PASSWORD_OTP_AMR } from '../tokens/amr.ts';
import type { KeyRing } from '../tokens/keyring.ts';
import { passkeyAmr } from '../webauthn/relying-party.ts';
import { assertStoredPasskey } from './check-passkey.ts';
import { mfaPasskeyChallengeId } from './mfa-token.ts';

/** The account a second factor is checked for, with its user item as read (the factors are on it). */
export interface SecondFactorSubject {
  userId: string;
  username: string;
  item: Record<string, unknown> | undefined;
  /**
   * The hash of the `mfaToken` the login continues (`POST /auth/login/mfa`): a passkey's challenge was issued
   * for it (`POST /auth/login/mfa/options`). Absent elsewhere (a password reset takes no passkey).
   */
  mfaTokenHash?: string | undefined;
}

/** One presented second factor: the method and what the client sent for it. */
export interface SecondFactorProof {
  method: SecondFactorMethod;
  value: unknown;
}

/**
 * How a method checks its proof: the RFC 8176 values the login gains when it succeeds (together with the
 * password), or `undefined` when it fails. A success is single-use: it is recorded by a conditional write, so of
 * racing submissions of one code exactly one succeeds.
 */
export type SecondFactorVerifier = (
  services: Services,
  ring: KeyRing,
  subject: SecondFactorSubject,
  value: unknown,
) => Promise<readonly AmrValue[] | undefined>;

/**
 * The request field each method's proof arrives in (API.md: `code`, `recoveryCode`, `passkey`), and its verifier.
 * A method is added here (passkeys add theirs) and nowhere else: `POST /auth/login/mfa` and the password reset
 * both read proofs and check them through this table.
 */
export const secondFactorMethods: Record<
  SecondFactorMethod,
  { field: string; verify: SecondFactorVerifier | undefined }
> = {
  totp: { field: 'code', verify: verifyTotpCode },
  recovery_code: { field: 'recoveryCode', verify: verifyRecoveryCode },
  passkey: { field: 'passkey', verify: verifyPasskeyAssertion },
};

/**
 * The one second-factor proof a request body carries (`undefined` when it carries none). More than one, or one
 * of the wrong type, is `400 invalid_request`; codes are strings, a passkey response an object.
 */
export function secondFactorProof(body: JsonBody): SecondFactorProof | undefined {
  const present = Object.entries(secondFactorMethods).filter(
    ([, { field }]) => body[field] !== undefined && body[field] !== null,
  );
  if (present.length > 1)
    throw new ApiError('invalid_request', {
      message: 'Send one second factor: a code, a recovery code or a passkey.',
    });
  const [entry] = present;
  if (!entry) return undefined;
  const [method, { field, verify }] = entry as [
    SecondFactorMethod,
    (typeof secondFactorMethods)[SecondFactorMethod],
  ];
  const value = body[field];
  if (!verify) throw new ApiError('invalid_request', { message: `"${field}" is not supported.` });
  if (method !== 'passkey' && typeof value !== 'string')
    throw new ApiError('invalid_request', { message: `"${field}" must be a string.` });
  if (method === 'passkey' && (typeof value !== 'object' || Array.isArray(value)))
    throw new ApiError('invalid_request', {
      message: `"${field}" must be an object (AuthenticationResponseJSON).`,
    });
  return { method, value };
}

/**
 * Checks a proof for `subject`: the RFC 8176 values it adds, or `undefined` when it is wrong (or the method is
 * not enrolled). Never throws for a wrong proof; a store fault is a 503.
 */
export async function verifySecondFactor(
  services: Services,
  ring: KeyRing,
  subject: SecondFactorSubject,
  proof: SecondFactorProof,
): Promise<readonly AmrValue[] | undefined> {
  const verify = secondFactorMethods[proof.method].verify;
  return verify ? verify(services, ring, subject, proof.value) : undefined;
}

/**
 * A TOTP code (RFC 6238): a code of the current step or one either side, after the last accepted step; that
 * step becomes the last accepted one by a conditional write (`totpStep < :step`), which also re-seals the secret
 * under the ring's current key when it was sealed under an older one.
 */
async function verifyTotpCode(
  services: Services,
  ring: KeyRing,
  subject: SecondFactorSubject,
  value: unknown,
): Promise<readonly AmrValue[] | undefined> {
  const factors = secondFactorsOf(subject.item);
  const secret = openTotpSecret(ring, subject.userId, factors.totpSecret);
  if (factors.totpSecret === undefined || secret === undefined || typeof value !== 'string') return undefined;
  const step = matchingTotpStep(secret, value, Date.now(), factors.totpStep);
  if (step === undefined) return undefined;
  const accepted = await services.secondFactors.acceptTotpStep({
    username: subject.username,
    userId: subject.userId,
    seen: factors.totpSecret,
    step,
    reseal: sealedUnderCurrentKey(ring, factors.totpSecret)
      ? undefined
      : sealTotpSecret(ring, subject.userId, secret),
  });
  return accepted ? PASSWORD_OTP_AMR : undefined;
}

/** A recovery code: used up by a conditional removal of its hash, so exactly one of racing uses succeeds. */
async function verifyRecoveryCode(
  services: Services,
  _ring: KeyRing,
  subject: SecondFactorSubject,
  value: unknown,
): Promise<readonly AmrValue[] | undefined> {
  const hash = typeof value === 'string' ? hashRecoveryCode(value) : undefined;
  if (hash === undefined) return undefined;
  const used = await services.secondFactors.consumeRecoveryCode(subject.username, subject.userId, hash);
  return used ? PASSWORD_OTP_AMR : undefined;
}

/**
 * A passkey assertion (`AuthenticationResponseJSON`) answering the challenge issued for this `mfaToken`: the
 * challenge is taken by one conditional delete (used once, also when the assertion then fails), the credential
 * must be one of the user's, and the assertion must verify with user verification and a signature counter that
 * moves forward (`assertStoredPasskey`: the same rule and conditional write as a passwordless sign-in). `amr`
 * (RFC 8176): `pwd`, then `hwk` or `swk` (device-bound or synced credential), `user`, `mfa`.
 */
async function verifyPasskeyAssertion(
  services: Services,
  _ring: KeyRing,
  subject: SecondFactorSubject,
  value: unknown,
): Promise<readonly AmrValue[] | undefined> {
  if (subject.mfaTokenHash === undefined) return undefined;
  const now = nowSeconds();
  const pending = await services.webauthnChallenges.consume(
    mfaPasskeyChallengeId(subject.mfaTokenHash),
    'mfa',
    now,
    subject.userId,
  );
  const stored = await services.passkeys.get(subject.userId);
  const outcome = await assertStoredPasskey(services, stored, value, pending?.challenge, now);
  if ('refused' in outcome) {
    logEvent('info', 'passkey refused', { reason: outcome.refused });
    return undefined;
  }
  return ['pwd', ...passkeyAmr(outcome.passkey)];
}
