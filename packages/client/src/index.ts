/**
 * The auth service's client for browsers and Node 24, built on `fetch` and nothing else.
 *
 * ```ts
 * // In a browser: localStorageStorage() shares the session between tabs. In Node: leave storage out (memory).
 * const auth = createAuthClient({ baseUrl: 'https://auth.example.com', storage: localStorageStorage() });
 * await auth.login('alice', 'correct horse battery staple');
 * const me = await (await auth.fetch('/me')).json();
 * ```
 */
export {
  AuthClient,
  type AuthClientOptions,
  type AuthEvents,
  createAuthClient,
  type RegisteredUser,
  type SessionInfo,
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
export {
  localStorageStorage,
  memoryStorage,
  StorageUnavailableError,
  type StoredTokens,
  type TokenStorage,
  type WebStorageLike,
} from './storage.ts';
