/** Longest address kept (RFC 5321 §4.5.3.1.3: a path is at most 256 octets, 254 of them the address). */
export const MAX_EMAIL_LENGTH = 254;

/**
 * The stored form of an e-mail address (API.md, `POST /auth/register`): trimmed and lower-cased, so that
 * `Alice@Example.com` and `alice@example.com` are one address. Returns `undefined` unless the result has exactly
 * one `@` with something on both sides, at most {@link MAX_EMAIL_LENGTH} characters, and no white space or control
 * characters. Deliberately no stricter: whether an address exists is for the verification mail to show.
 */
export function normaliseEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH) return undefined;
  // No spaces, no C0/C1 controls, no DEL: a header injection or a display trick cannot ride in an address.
  if (/[\s\p{Cc}]/u.test(email)) return undefined;
  const parts = email.split('@');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return email;
}
