import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';

/** The TOTP code of `secret` (base32) for the step `Date.now()` is in (the fake clock's, where one is used). */
export const codeNow = (secret: string): string => totpCodeAt(secret, totpStepAt(Date.now()));

/** A six-digit code that is not `code`. */
export const otherThan = (code: string): string => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** Moves `clock` to just past the start of the next 30 s TOTP step, so that a fresh code exists. */
export const nextStepOf = (clock: { advance(seconds: number): void }) => () =>
  clock.advance(30 - ((Date.now() / 1000) % 30) + 0.01);
