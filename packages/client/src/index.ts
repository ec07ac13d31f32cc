/**
 * The auth service's client for browsers and Node 24, built on `fetch` and nothing else.
 *
 * ```ts
 * // In a browser: the refresh token in an HttpOnly cookie no script can read, the access token in memory.
 * const auth = createAuthClient({ baseUrl: 'https://auth.example.com', transport: 'cookie' });
 * await auth.resume(); // a reload or a new tab: signed in again if the cookie holds a session
 * // In Node: leave transport and storage out (tokens in the body, kept in memory).
 * await auth.login('alice', 'correct horse battery staple');
 * const me = await (await auth.fetch('/me')).json();
 * ```
 */
export {
  AuthClient,
  type AuthClientOptions,
  type AuthEvents,
  createAuthClient,
  type LoginResult,
  type RegisteredUser,
  type SecondFactorMethod,
  type SecondFactorProof,
  type SessionInfo,
  type TokenTransport,
} from './client.ts';
export {
  type ApiErrorCode,
  AuthError,
  type AuthErrorCode,
  type ClientErrorCode,
  isApiErrorCode,
  SignedOutError,
  type SignOutReason,
} from './errors.ts';
export type { PasskeyCeremonies, PasskeyInfo } from './passkeys.ts';
export {
  type DeviceTokenStorage,
  defaultDeviceStorage,
  fileDeviceStorage,
  localStorageDeviceStorage,
  localStorageStorage,
  memoryDeviceStorage,
  memoryStorage,
  StorageUnavailableError,
  type StoredTokens,
  type TokenStorage,
  type WebStorageLike,
} from './storage.ts';
