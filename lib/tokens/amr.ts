/**
 * Authentication Method Reference values (RFC 8176 §2) this service records for a login (API.md "Tokens"):
 * `pwd` a password; `otp` a one-time code (TOTP, or a recovery code); `mfa` more than one factor; `hwk` / `swk`
 * a hardware- or software-bound key (a passkey); `user` user presence and verification by the authenticator.
 */
export const amrValues = ['pwd', 'otp', 'mfa', 'hwk', 'swk', 'user'] as const;
export type AmrValue = (typeof amrValues)[number];

/** A password alone. */
export const PASSWORD_AMR: readonly AmrValue[] = ['pwd'];
/** A password and a TOTP or recovery code. */
export const PASSWORD_OTP_AMR: readonly AmrValue[] = ['pwd', 'otp', 'mfa'];

const known: ReadonlySet<string> = new Set(amrValues);

/**
 * The compact form kept on a session item: the values joined by commas (`pwd,otp,mfa`, 11 bytes), since every
 * byte of a session item counts toward what the authorizer reads on each call.
 */
export const encodeAmr = (amr: readonly AmrValue[]): string => amr.join(',');

/**
 * The values of a stored or context form; a session stored before `amr` existed was a password login
 * (`["pwd"]`). Unknown values are dropped, never invented.
 */
export function decodeAmr(stored: unknown): AmrValue[] {
  if (typeof stored !== 'string' || stored === '') return [...PASSWORD_AMR];
  return stored.split(',').filter((value): value is AmrValue => known.has(value));
}

/** Whether `amr` shows more than one factor (RFC 8176 `mfa`): what `requireMfa` asks of a token. */
export const isMultiFactor = (amr: readonly string[]): boolean => amr.includes('mfa');
