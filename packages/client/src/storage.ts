/** A session's tokens as the client keeps them. Expiry instants are epoch milliseconds on this device's clock. */
export interface StoredTokens {
  accessToken: string;
  /**
   * The refresh token; absent with the cookie transport (`transport: 'cookie'`), where it lives in an HttpOnly
   * cookie that neither the client nor any other script can read.
   */
  refreshToken?: string;
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

/** The storage of the cookie transport: memory kept in step with the other tabs (see {@link sharedMemoryStorage}). */
export interface SharedMemoryStorage extends TokenStorage {
  /**
   * Resolves at the next message from another tab, or after `ms` milliseconds without one: a tab that was
   * granted the refresh lock right after another tab refreshed lets that tab's new pair land first (messages
   * and lock grants are not ordered with each other).
   */
  settle(ms: number): Promise<void>;
  /** Closes the channel. */
  close(): void;
}

const isStoredTokens = (value: unknown): value is StoredTokens => {
  const tokens = value as Partial<StoredTokens> | null;
  return (
    typeof tokens?.accessToken === 'string' &&
    typeof tokens.obtainedAt === 'number' &&
    typeof tokens.accessExpiresAt === 'number' &&
    typeof tokens.refreshExpiresAt === 'number'
  );
};

/**
 * The cookie transport's storage: the access token in this context's memory only (never `localStorage`,
 * `sessionStorage` or IndexedDB), kept in step with the other tabs of the origin through a
 * `BroadcastChannel` named `name`, and refreshes serialised across them with the Web Locks API under the same
 * name: one tab refreshes, the others take its new access token. A tab that starts later holds nothing until
 * it refreshes with the cookie (`AuthClient.resume()`). Where `BroadcastChannel` is missing it is plain
 * memory.
 */
export function sharedMemoryStorage(name: string): SharedMemoryStorage {
  let tokens: StoredTokens | null = null;
  const listeners = new Set<() => void>();
  const waiters = new Set<() => void>();
  const channel = typeof globalThis.BroadcastChannel === 'function' ? new BroadcastChannel(name) : undefined;
  // In Node an open channel would keep the process alive.
  (channel as { unref?: () => void } | undefined)?.unref?.();
  channel?.addEventListener('message', (event: MessageEvent) => {
    tokens = isStoredTokens(event.data) ? { ...event.data } : null;
    for (const wake of [...waiters]) wake();
    for (const listener of listeners) listener();
  });
  return {
    lockName: name,
    get: () => tokens,
    set(next) {
      tokens = { ...next };
      channel?.postMessage(tokens);
    },
    clear() {
      tokens = null;
      channel?.postMessage(null);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    settle(ms) {
      if (!channel) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        waiters.add(wake);
      });
    },
    close() {
      listeners.clear();
      for (const wake of [...waiters]) wake();
      channel?.close();
    },
  };
}

/**
 * Where the client keeps the device token that every login answers (the service's "Known devices"): sent with
 * each later login, so that this device's correct logins are judged by its own failures only, never held by
 * strangers' guesses at the name. It is not a session credential: it is kept across sign-outs and logouts,
 * and replaced by whatever token the next login answers. Every method may be synchronous or return a promise.
 */
export interface DeviceTokenStorage {
  get(): string | null | Promise<string | null>;
  set(token: string): void | Promise<void>;
}

/** A device token held in memory: kept across sign-outs for as long as the client (process, page) lives. */
export function memoryDeviceStorage(): DeviceTokenStorage {
  let token: string | null = null;
  return {
    get: () => token,
    set: (next) => {
      token = next;
    },
  };
}

/**
 * The device token in `localStorage` under `key` (persistent in a browser, shared by the origin's tabs). Throws
 * {@link StorageUnavailableError} where there is no `localStorage`.
 */
export function localStorageDeviceStorage(
  key = 'lambda-token-auth.device',
  storage: WebStorageLike | undefined = (globalThis as { localStorage?: WebStorageLike }).localStorage,
): DeviceTokenStorage {
  if (!storage) {
    throw new StorageUnavailableError(
      'localStorageDeviceStorage(): this runtime has no localStorage. Use fileDeviceStorage(path) in Node.',
    );
  }
  return {
    get: () => storage.getItem(key),
    set: (token) => storage.setItem(key, token),
  };
}

/** The part of Node's `node:fs/promises` that {@link fileDeviceStorage} uses (the package has no Node types). */
interface NodeFsPromises {
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  writeFile(path: string, data: string, options: { mode: number }): Promise<void>;
}

/**
 * The device token in a file (Node): persistent across processes. The file holds the token alone and is
 * written with mode 0600 (readable by its owner only); a missing or unreadable file reads as no token.
 * `node:fs` is loaded only when the storage is used, so browser bundles never need it.
 */
export function fileDeviceStorage(path: string): DeviceTokenStorage {
  // Not a literal: bundlers for the browser leave it alone.
  const fsModule = 'node:fs/promises';
  const fs = () => import(fsModule) as Promise<NodeFsPromises>;
  return {
    async get() {
      try {
        const token = (await (await fs()).readFile(path, 'utf8')).trim();
        return token === '' ? null : token;
      } catch {
        return null;
      }
    },
    async set(token) {
      await (await fs()).writeFile(path, token, { mode: 0o600 });
    },
  };
}

/**
 * The default device storage: `localStorage` where there is one (a browser), else memory (Node: pass
 * {@link fileDeviceStorage} to keep it across processes).
 */
export function defaultDeviceStorage(): DeviceTokenStorage {
  return (globalThis as { localStorage?: WebStorageLike }).localStorage
    ? localStorageDeviceStorage()
    : memoryDeviceStorage();
}
