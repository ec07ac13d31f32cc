/** A session's tokens as the client keeps them. Expiry instants are epoch milliseconds on this device's clock. */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** When the pair arrived (epoch milliseconds, this device's clock). */
  obtainedAt: number;
  /** When the access token expires, from `expiresIn` counted from when the answer arrived. */
  accessExpiresAt: number;
  /** When the refresh token expires, from `refreshExpiresIn` counted the same way. */
  refreshExpiresAt: number;
}

/**
 * Where the client keeps its tokens. Every method may be synchronous or return a promise. The stored pair is
 * the source of truth: the client re-reads it before each refresh, so several clients (tabs) sharing one
 * storage always continue from the newest pair.
 */
export interface TokenStorage {
  get(): StoredTokens | null | Promise<StoredTokens | null>;
  set(tokens: StoredTokens): void | Promise<void>;
  clear(): void | Promise<void>;
  /**
   * For storage shared between contexts (tabs): the Web Locks name under which refreshes are serialised
   * across them. Leave it out for storage private to one client.
   */
  readonly lockName?: string;
  /** Optional: calls `listener` when another context changes the stored tokens; returns an unsubscribe. */
  subscribe?(listener: () => void): () => void;
}

/** Tokens held in this client's memory only (the default): gone when the process or page goes. */
export function memoryStorage(): TokenStorage {
  let tokens: StoredTokens | null = null;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = { ...next };
    },
    clear: () => {
      tokens = null;
    },
  };
}

/** The parts of the Web Storage API that {@link localStorageStorage} uses. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Thrown by {@link localStorageStorage} in a runtime without `localStorage` (Node, a worker, a locked-down page). */
export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError';
}

/**
 * Tokens in `localStorage` under `key`, shared by every tab of the origin: refreshes are serialised across
 * tabs with the Web Locks API and changes made by other tabs are reported through the `storage` event.
 * Anything a script on the page can run can read these tokens; keep the page free of third-party scripts.
 *
 * For browsers. Where there is no `localStorage` (Node has none) it throws {@link StorageUnavailableError}
 * at once, rather than a TypeError at the first read: use {@link memoryStorage} (the client's default) there,
 * or pass a `WebStorageLike` of your own as `storage`.
 */
export function localStorageStorage(
  key = 'auth-tokens',
  storage: WebStorageLike | undefined = (globalThis as { localStorage?: WebStorageLike }).localStorage,
): TokenStorage {
  if (!storage) {
    throw new StorageUnavailableError(
      'localStorageStorage(): this runtime has no localStorage (Node has none). Use memoryStorage(), the default, or pass a storage of your own.',
    );
  }
  return {
    lockName: `auth-refresh:${key}`,
    get() {
      const raw = storage.getItem(key);
      if (raw === null) return null;
      try {
        const parsed = JSON.parse(raw) as Partial<StoredTokens>;
        if (
          typeof parsed.accessToken === 'string' &&
          typeof parsed.refreshToken === 'string' &&
          typeof parsed.obtainedAt === 'number' &&
          typeof parsed.accessExpiresAt === 'number' &&
          typeof parsed.refreshExpiresAt === 'number'
        ) {
          return parsed as StoredTokens;
        }
      } catch {
        // A corrupt entry is treated as no session.
      }
      return null;
    },
    set(tokens) {
      storage.setItem(key, JSON.stringify(tokens));
    },
    clear() {
      storage.removeItem(key);
    },
    subscribe(listener) {
      if (typeof globalThis.addEventListener !== 'function') return () => {};
      const onStorage = (event: StorageEvent) => {
        if (event.key === key || event.key === null) listener();
      };
      globalThis.addEventListener('storage', onStorage);
      return () => globalThis.removeEventListener('storage', onStorage);
    },
  };
}
