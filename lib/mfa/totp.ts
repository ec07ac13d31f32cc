import { randomBytes } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';

/**
 * The TOTP parameters every authenticator app reads (RFC 6238 §4, §5.2; API.md "Second factor"): HMAC-SHA-1,
 * 6 digits, 30-second steps counted from the Unix epoch. Not configurable: a deployment that changed them would
 * lock out every enrolled app.
 */
export const TOTP_PARAMETERS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;

/** Steps either side of the current one that are accepted (RFC 6238 §5.2: one, for clock drift and typing time). */
export const TOTP_WINDOW = 1;

/** Bytes of a new shared secret: 160 bits, the HMAC-SHA-1 output length RFC 4226 §4 (R6) recommends. */
export const TOTP_SECRET_BYTES = 20;

const CODE_PATTERN = /^[0-9]{6}$/;

/** A new random shared secret (160 bits) in base32 (RFC 4648 §6), as `otpauth://` URIs and apps carry it. */
export function newTotpSecret(): string {
  return new Secret({ buffer: randomBytes(TOTP_SECRET_BYTES).buffer }).base32;
}

/**
 * The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` URI (Google Authenticator's key URI format) an app
 * scans from a QR code.
 */
export function otpauthUri(secretBase32: string, issuer: string, accountName: string): string {
  return new TOTP({
    ...TOTP_PARAMETERS,
    issuer,
    label: accountName,
    secret: Secret.fromBase32(secretBase32),
  }).toString();
}

/** The TOTP time step (RFC 6238 §4.2, `T`) at `nowMs` epoch milliseconds. */
export const totpStepAt = (nowMs: number): number =>
  TOTP.counter({ period: TOTP_PARAMETERS.period, timestamp: nowMs });

/** The code of `step` (RFC 4226 HOTP over the step counter): for tests and the demo, never sent by the service. */
export function totpCodeAt(secretBase32: string, step: number): string {
  return HOTP.generate({
    secret: Secret.fromBase32(secretBase32),
    algorithm: TOTP_PARAMETERS.algorithm,
    digits: TOTP_PARAMETERS.digits,
    counter: step,
  });
}

/**
 * The step `code` is the code of, among the current step at `nowMs` and {@link TOTP_WINDOW} either side, counting
 * only steps after `lastStep` (the account's last accepted one: a step is never accepted twice, nor any earlier
 * one, RFC 6238 §5.2). `undefined` when none matches or the code is not six digits. Each candidate is compared in
 * constant time by the library.
 */
export function matchingTotpStep(
  secretBase32: string,
  code: string,
  nowMs: number,
  lastStep: number,
): number | undefined {
  const token = code.replace(/\s/g, '');
  if (!CODE_PATTERN.test(token)) return undefined;
  const secret = Secret.fromBase32(secretBase32);
  const current = totpStepAt(nowMs);
  // Oldest first: when a code matches two steps (one chance in a million), the older one uses up less.
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step += 1) {
    if (step <= lastStep) continue;
    const delta = HOTP.validate({
      token,
      secret,
      algorithm: TOTP_PARAMETERS.algorithm,
      digits: TOTP_PARAMETERS.digits,
      counter: step,
      window: 0,
    });
    if (delta === 0) return step;
  }
  return undefined;
}
