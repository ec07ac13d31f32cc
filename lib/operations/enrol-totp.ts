import { ApiError } from '../errors.ts';
import { sealTotpSecret } from '../mfa/secret-box.ts';
import { newTotpSecret, otpauthUri } from '../mfa/totp.ts';
import type { Services } from '../services.ts';
import { authenticate } from './authenticate.ts';
import { checkFromSession } from './check-password.ts';

/** `POST /auth/mfa/totp`'s answer (API.md "Second factor"): the new secret, for the user's authenticator app. */
export interface TotpEnrolment {
  /** The shared secret, base32 (RFC 4648), 160 bits. */
  secret: string;
  /** `otpauth://totp/<issuer>:<username>?secret=…&issuer=…`, for a QR code. */
  otpauthUri: string;
}

/**
 * Starts a TOTP enrolment for the caller, re-authenticated by the password (`checkFromSession`: judged by this
 * session's own failure count, never the name's): a new 160-bit secret is stored sealed as the pending one (replacing any pending one) and returned,
 * once, for the user's app. TOTP is on only after `confirmTotp` sees a code of it.
 *
 * Errors: as `authenticate`; `401 invalid_credentials`, `429 too_many_attempts`; `409 mfa_already_enabled`
 * while TOTP is on.
 */
export async function enrolTotp(
  services: Services,
  accessToken: string | undefined,
  password: string,
): Promise<TotpEnrolment> {
  const caller = await authenticate(services, accessToken);
  const { userId, username } = caller;
  const ring = await services.keys.getKeyRing();
  const { account: checked } = await checkFromSession(services, caller, password);
  // The name now belongs to another account (this one was deleted and the name taken).
  if (checked.userId !== userId) throw new ApiError('session_revoked');
  if (checked.secondFactorMethods.includes('totp')) throw new ApiError('mfa_already_enabled');
  const secret = newTotpSecret();
  if (!(await services.secondFactors.setPendingTotp(username, userId, sealTotpSecret(ring, userId, secret))))
    throw new ApiError('mfa_already_enabled');
  return { secret, otpauthUri: otpauthUri(secret, services.config.totpIssuer, username) };
}
