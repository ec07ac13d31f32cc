import { createHash, randomBytes } from 'node:crypto';
import type { Services } from '../services.ts';
import type { SecondFactorMethod } from '../store/second-factors.ts';
import type { UserAccount } from '../store/users.ts';

/*
 * The pending second step of a login: its `mfaToken`, and which methods it may be completed with. Apart from
 * the verifiers (second-factor.ts) so that the password login, which only opens the step, carries neither the
 * TOTP library nor SimpleWebAuthn.
 */

/**
 * The second factors a login of `account` must complete with one of, in the order a client should offer them
 * (API.md "Login with a second factor", `methods`): TOTP and recovery codes from the user item as read, then
 * `passkey` when the account has a passkey. The passkeys are read only for an account marked as possibly having
 * some (`passkeysEnrolled`), so a login of any other account costs no request more. `[]`: none is due.
 */
export async function secondFactorMethodsOf(
  services: Services,
  account: UserAccount,
): Promise<SecondFactorMethod[]> {
  const methods = [...account.secondFactorMethods];
  if (account.mayHavePasskeys && (await services.passkeys.get(account.userId)).passkeys.length > 0)
    methods.push('passkey');
  return methods;
}

/**
 * The id of the WebAuthn challenge a second-factor step with a passkey answers: one per `mfaToken` (by its
 * hash), so that asking for options again replaces it and `POST /auth/login/mfa` needs no id of its own.
 */
export const mfaPasskeyChallengeId = (mfaTokenHash: string) => `mfa.${mfaTokenHash}`;

/** Seconds an `mfaToken` lives (API.md "Login with a second factor"). */
export const MFA_TOKEN_TTL = 300;
/** Wrong codes that kill an `mfaToken`. */
export const MFA_TOKEN_MAX_FAILURES = 5;

/** A new `mfaToken`: 256 random bits, opaque; the store keeps only its hash. */
export const newMfaToken = (): string => randomBytes(32).toString('base64url');

/** The hash an `mfaToken` is stored and found under (SHA-256, base64url). */
export const hashMfaToken = (token: string): string => createHash('sha256').update(token).digest('base64url');
