import { ApiError } from '../errors.ts';

/** Passwords are 8 to 1024 characters (UTF-16 code units), counted after normalisation (API.md "Passwords"). */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * The form of a password that is checked and hashed: Unicode NFKC (NIST SP 800-63B §5.1.1.2), so that the same
 * password typed on two keyboards (a precomposed or a decomposed "é", a full-width digit) is one password.
 * Throws `400 invalid_request` for a string that is not well-formed UTF-16 (a lone surrogate, which encoders
 * would silently turn into U+FFFD, so that many different strings would hash alike) and for one longer than
 * {@link MAX_PASSWORD_LENGTH} before or after normalisation.
 */
export function normalisePassword(raw: string, field = 'password'): string {
  if (!raw.isWellFormed()) {
    throw new ApiError('invalid_request', {
      message: `"${field}" must be well-formed Unicode text (no lone surrogates).`,
    });
  }
  const normalised = raw.normalize('NFKC');
  if (raw.length > MAX_PASSWORD_LENGTH || normalised.length > MAX_PASSWORD_LENGTH) {
    throw new ApiError('invalid_request', {
      message: `"${field}" must be at most ${MAX_PASSWORD_LENGTH} characters.`,
    });
  }
  return normalised;
}
