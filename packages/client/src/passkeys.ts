import { AuthError } from './errors.ts';

/**
 * The browser's two WebAuthn ceremonies in the shape `@simplewebauthn/browser` exports them: pass that module
 * (`import * as webauthn from '@simplewebauthn/browser'`) as the client's `passkeys` option. The client stays
 * free of dependencies; the options and responses are the standard JSON forms the service speaks (W3C WebAuthn
 * Level 3, `PublicKeyCredentialCreationOptionsJSON` and friends).
 */
export interface PasskeyCeremonies {
  startRegistration(options: { optionsJSON: never }): Promise<unknown>;
  startAuthentication(options: { optionsJSON: never }): Promise<unknown>;
}

/** One of the user's passkeys (`GET /auth/passkeys`); times are ISO 8601 UTC strings. */
export interface PasskeyInfo {
  passkeyId: string;
  name: string;
  createdAt: string;
  /** `null` before its first sign-in. */
  lastUsedAt: string | null;
}

/** The ceremonies, or the error that says the client was created without them. */
export function requireCeremonies(ceremonies: PasskeyCeremonies | undefined): PasskeyCeremonies {
  if (!ceremonies) {
    throw new AuthError(
      'passkeys_unavailable',
      "Passkeys need the browser's WebAuthn ceremonies: createAuthClient({ passkeys: await import('@simplewebauthn/browser') }).",
    );
  }
  return ceremonies;
}

/**
 * Runs one ceremony; the browser's refusal (the user cancelled, no authenticator, a timeout, an excluded
 * credential) becomes an `AuthError` `passkey_ceremony_failed` whose `cause` is the browser's `DOMException`.
 */
export async function runCeremony(ceremony: () => Promise<unknown>): Promise<unknown> {
  try {
    return await ceremony();
  } catch (cause) {
    const name = (cause as { name?: unknown })?.name;
    throw new AuthError(
      'passkey_ceremony_failed',
      `The browser did not complete the passkey ceremony${typeof name === 'string' ? ` (${name})` : ''}.`,
      { cause },
    );
  }
}
