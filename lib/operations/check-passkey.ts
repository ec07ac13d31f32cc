import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { logEvent } from '../observability/log.ts';
import type { Services } from '../services.ts';
import { addressWait, clientAddressKey } from '../store/lockout-policy.ts';
import type { StoredPasskey, UserPasskeys } from '../store/passkeys.ts';
import { accountOf } from '../store/users.ts';
import { credentialIdOf, PasskeyVerificationError, verifyAssertion } from '../webauthn/relying-party.ts';

/** What a passkey check needs. */
export interface PasskeyCheckInput {
  /** The user the assertion claims to be from (its user handle, or the user of a second-factor step). */
  userId: string | undefined;
  /** The assertion as sent (`AuthenticationResponseJSON`; anything else fails verification). */
  response: unknown;
  /** The challenge it must answer: `undefined` when the presented one was unknown, used or expired. */
  expectedChallenge: string | undefined;
  client: { ipAddress: string };
  /** A sign-in only: the id of the session it stores on success (it names the check's slot, as at login). */
  sessionId?: string;
}

/** A passkey check that succeeded: the credential (its counter already moved forward) and the account's name. */
export interface CheckedPasskey {
  passkey: StoredPasskey;
  username: string;
}

/**
 * The lockout-guarded passkey check, the counterpart of `checkPassword` for an assertion (API.md "Passkeys":
 * any verification failure is `401 invalid_credentials` and counts toward the lockout of the credential's
 * user). It is admitted exactly as a password check is (the address's lock, one of the name's check slots, the
 * (name, address) pair's lock and the hourly ceiling; otherwise `429 too_many_attempts`), so a burst of forged
 * assertions is throttled like a burst of guesses. Then the assertion is verified against the user's stored
 * credential (SimpleWebAuthn: origin, RP ID, challenge, signature, user verification, signature counter), and the
 * new counter is written conditionally (a counter that went backwards, or a credential deleted meanwhile, is
 * refused there too). A failure counts for the name, the pair and the address; a success clears the name's
 * failures as a right password does.
 *
 * An assertion whose user is unknown (no or a foreign user handle, a user without passkeys) is counted for the
 * address only: there is no name to count it for.
 */
export async function checkPasskey(services: Services, input: PasskeyCheckInput): Promise<CheckedPasskey> {
  const { attempts } = services;
  // Counted per IPv6 /64 (an IPv4 address as it is), as a password check's address is.
  const address = clientAddressKey(input.client.ipAddress);
  const now = nowSeconds();
  const addressCount = await attempts.addressCount(address);
  const addressLock = addressWait(addressCount, now, attempts.policy);
  if (addressLock > 0) throw new ApiError('too_many_attempts', { retryAfter: addressLock });

  const stored = input.userId === undefined ? undefined : await services.passkeys.get(input.userId);
  const username = stored?.username;
  if (!stored || username === undefined) {
    await attempts.recordAddressFailure(address, addressCount, now);
    throw refused('no passkeys for the user handle');
  }

  const admission = await attempts.admit(username, address, input.sessionId ?? randomUUID(), now);
  if (!admission.admitted) throw new ApiError('too_many_attempts', { retryAfter: admission.retryAfter });
  // The name may since belong to another account (this one deleted, the name taken): nothing of this check is
  // recorded against that account, and nothing here could succeed.
  if (accountOf(admission.state.item)?.userId !== stored.userId) throw refused('the name changed hands');

  const outcome = await assertStoredPasskey(services, stored, input.response, input.expectedChallenge, now);
  if ('refused' in outcome) {
    await Promise.all([
      attempts.recordFailure({ username, address, admission, now }),
      attempts.recordAddressFailure(address, addressCount, now),
    ]);
    throw refused(outcome.refused);
  }
  await attempts.recordSuccess({
    username,
    address,
    admission,
    now,
    leaseProvenBySession: input.sessionId !== undefined,
  });
  return { passkey: outcome.passkey, username };
}

/**
 * Verifies an assertion against one of the user's stored passkeys and records its use, without any lockout
 * bookkeeping (the caller's guarded check does that): the credential the response names must be one of
 * `stored`, the response must verify against `expectedChallenge` (SimpleWebAuthn: origin, RP ID, signature,
 * user verification, the counter against the stored one), and the new counter is written by
 * `PasskeyStore.recordUse` (the counter rule again, and the credential still there). Returns the passkey as it
 * now is, or why it was refused (for logs only).
 */
export async function assertStoredPasskey(
  services: Services,
  stored: UserPasskeys,
  response: unknown,
  expectedChallenge: string | undefined,
  now: number,
): Promise<{ passkey: StoredPasskey } | { refused: string }> {
  const credentialId = credentialIdOf(response);
  const passkey = stored.passkeys.find((candidate) => candidate.credentialId === credentialId);
  if (!passkey) return { refused: 'no such credential of the user' };
  if (expectedChallenge === undefined) return { refused: 'unknown, used or expired challenge' };
  let newCounter: number;
  try {
    ({ newCounter } = await verifyAssertion(services.config.webauthn, response, expectedChallenge, passkey));
  } catch (error) {
    if (!(error instanceof PasskeyVerificationError)) throw error;
    return { refused: describeCause(error) };
  }
  if (!(await services.passkeys.recordUse(stored.userId, passkey.credentialId, newCounter, now)))
    return { refused: 'counter did not move forward, or the credential was deleted' };
  return { passkey: { ...passkey, counter: newCounter, lastUsedAt: now * 1000 } };
}

function refused(reason: string): ApiError {
  logEvent('info', 'passkey refused', { reason });
  return new ApiError('invalid_credentials', {
    message: 'The passkey could not be verified.',
    cause: new Error(reason),
  });
}

/** The verifier's reason, for the log line (its messages name no secret: they describe the response's shape). */
function describeCause(error: PasskeyVerificationError): string {
  const cause = error.cause;
  return cause instanceof Error ? cause.message.slice(0, 200) : error.message;
}
