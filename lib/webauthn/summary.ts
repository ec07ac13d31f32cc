import { ApiError } from '../errors.ts';
import { MAX_PASSKEY_NAME, type StoredPasskey } from '../store/passkeys.ts';

/** One passkey as the API shows it (API.md "Passkeys"): times as ISO 8601 UTC strings. */
export interface PasskeySummary {
  passkeyId: string;
  name: string;
  createdAt: string;
  /** `null` before its first sign-in. */
  lastUsedAt: string | null;
}

/** The API's view of a stored passkey: never its public key or counter. */
export const passkeySummary = (passkey: StoredPasskey): PasskeySummary => ({
  passkeyId: passkey.credentialId,
  name: passkey.name,
  createdAt: new Date(passkey.createdAt).toISOString(),
  lastUsedAt: passkey.lastUsedAt === undefined ? null : new Date(passkey.lastUsedAt).toISOString(),
});

/**
 * A passkey name as given (`name`): trimmed, 1 to {@link MAX_PASSKEY_NAME} characters, no control characters;
 * `fallback` when absent. Otherwise `400 invalid_request`.
 */
export function passkeyName(name: string | undefined, fallback: string): string {
  if (name === undefined) return fallback;
  if (!name.isWellFormed())
    throw new ApiError('invalid_request', { message: '"name" is not well-formed text.' });
  const trimmed = name.normalize('NFC').trim();
  if (trimmed.length === 0 || trimmed.length > MAX_PASSKEY_NAME || /\p{Cc}/u.test(trimmed)) {
    throw new ApiError('invalid_request', {
      message: `"name" must be 1-${MAX_PASSKEY_NAME} characters without control characters.`,
    });
  }
  return trimmed;
}

/** The `404` of a passkey id that is not one of the caller's (whether or not it exists). */
export const noSuchPasskey = () =>
  new ApiError('not_found', { message: 'No such passkey among yours.', tokenPresented: true });
