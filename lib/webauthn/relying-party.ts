import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { RelyingParty } from '../config.ts';
import type { StoredPasskey } from '../store/passkeys.ts';
import { CHALLENGE_LIFETIME } from '../store/webauthn-challenges.ts';
import type { AmrValue } from '../tokens/amr.ts';

/**
 * The WebAuthn ceremonies of this relying party (W3C WebAuthn Level 2, 7.1 and 7.2), through SimpleWebAuthn:
 * nothing here parses CBOR, COSE or attestation statements itself. Every verification requires user
 * verification (a PIN or biometric: the passkey alone is then two factors, RFC 8176 `user`), accepts only the
 * configured origins and RP ID, and throws {@link PasskeyVerificationError} for any response that does not
 * verify, however malformed.
 */

/** A response that did not verify (its reason is kept as `cause`, for logs only). */
export class PasskeyVerificationError extends Error {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super(`passkey response refused: ${reason}`, options);
    this.name = 'PasskeyVerificationError';
  }
}

/**
 * The public-key algorithms offered and accepted (COSE, RFC 9053): EdDSA, ES256 and RS256, what authenticators
 * and platforms support; the same list at both ends of a registration.
 */
const SUPPORTED_ALGORITHMS = [-8, -7, -257];
/** Milliseconds the browser gives the user: the challenge's own lifetime. */
const CEREMONY_TIMEOUT_MS = CHALLENGE_LIFETIME * 1000;

/**
 * The user handle of a user's credentials (WebAuthn Level 2, 5.4.3 `user.id`): the UTF-8 bytes of the user id, a
 * random UUID that says nothing about the person (not the username, which may be an address).
 */
export const userHandleOf = (userId: string): Uint8Array => new TextEncoder().encode(userId);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The user id a base64url user handle names, or `undefined` when it is absent or not one of ours. */
export function userIdOfHandle(userHandle: unknown): string | undefined {
  if (typeof userHandle !== 'string' || userHandle.length > 128) return undefined;
  const userId = Buffer.from(userHandle, 'base64url').toString('utf8');
  return UUID.test(userId) ? userId : undefined;
}

/**
 * Creation options for a new passkey of `user` (API.md: resident key preferred, user verification required,
 * existing credentials excluded, no attestation asked for).
 */
export function creationOptions(
  rp: RelyingParty,
  user: { userId: string; username: string },
  existing: readonly StoredPasskey[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: user.username,
    userDisplayName: user.username,
    userID: userHandleOf(user.userId) as Uint8Array<ArrayBuffer>,
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((passkey) => ({
      id: passkey.credentialId,
      transports: passkey.transports,
    })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
}

/** Request options: for a discoverable credential (no `allow`), or for one of the given credentials. */
export function requestOptions(
  rp: RelyingParty,
  allow?: readonly StoredPasskey[],
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.rpId,
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: 'required',
    ...(allow && {
      allowCredentials: allow.map((passkey) => ({
        id: passkey.credentialId,
        transports: passkey.transports,
      })),
    }),
  });
}

/** What a verified registration yields: the credential to store (the name and time are the caller's). */
export type VerifiedCredential = Pick<
  StoredPasskey,
  'credentialId' | 'publicKey' | 'counter' | 'transports' | 'backupEligible'
>;

/** Verifies a registration response (`RegistrationResponseJSON`) against the challenge it must answer. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string,
): Promise<VerifiedCredential> {
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response: response as RegistrationResponseJSON,
      expectedChallenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: true,
      supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
    });
  } catch (cause) {
    throw new PasskeyVerificationError('registration did not verify', { cause });
  }
  if (!verified.verified) throw new PasskeyVerificationError('registration did not verify');
  const { credential, credentialDeviceType } = verified.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: new Uint8Array(credential.publicKey),
    counter: credential.counter,
    transports: transportsOf(response),
    backupEligible: credentialDeviceType === 'multiDevice',
  };
}

/** The transport hints of a registration response (`response.transports`), only short known-shaped strings. */
function transportsOf(response: unknown): string[] {
  const transports = (response as { response?: { transports?: unknown } })?.response?.transports;
  if (!Array.isArray(transports)) return [];
  return transports.filter((t): t is string => typeof t === 'string' && /^[a-z-]{1,16}$/.test(t)).slice(0, 8);
}

/** The credential id an assertion names (`id`), when it is a base64url string; `undefined` otherwise. */
export function credentialIdOf(response: unknown): string | undefined {
  const id = (response as { id?: unknown })?.id;
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,1400}$/.test(id) ? id : undefined;
}

/** The user handle an assertion carries (`response.userHandle`), as sent. */
export const userHandleIn = (response: unknown): unknown =>
  (response as { response?: { userHandle?: unknown } })?.response?.userHandle;

/**
 * Verifies an assertion (`AuthenticationResponseJSON`) of `passkey` against its challenge, with user verification
 * required and the signature counter checked against the stored one (a counter that does not grow, where the
 * authenticator keeps one, is refused: a cloned authenticator, WebAuthn Level 2, 6.1.1). Returns the new counter.
 */
export async function verifyAssertion(
  rp: RelyingParty,
  response: unknown,
  expectedChallenge: string,
  passkey: StoredPasskey,
): Promise<{ newCounter: number }> {
  let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verified = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      expectedChallenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: {
        id: passkey.credentialId,
        publicKey: passkey.publicKey as Uint8Array<ArrayBuffer>,
        counter: passkey.counter,
        transports: passkey.transports as AuthenticatorTransport[],
      },
      requireUserVerification: true,
    });
  } catch (cause) {
    throw new PasskeyVerificationError('assertion did not verify', { cause });
  }
  if (!verified.verified || !verified.authenticationInfo.userVerified)
    throw new PasskeyVerificationError('assertion did not verify');
  return { newCounter: verified.authenticationInfo.newCounter };
}

/**
 * The RFC 8176 `amr` of a sign-in with a user-verified passkey: `swk` (proof of possession of a software-secured
 * key) for a backup-eligible credential, whose key is synced between devices by a passkey provider, and `hwk`
 * (a hardware-secured key) for a device-bound one, whose key never leaves its authenticator; then `user` (the
 * authenticator verified the user) and `mfa` (something one has and something one is or knows).
 */
export const passkeyAmr = (passkey: Pick<StoredPasskey, 'backupEligible'>): AmrValue[] => [
  passkey.backupEligible ? 'swk' : 'hwk',
  'user',
  'mfa',
];
