import { AuthError, errorFromResponse, SignedOutError, type SignOutReason } from './errors.ts';
import { type PasskeyCeremonies, type PasskeyInfo, requireCeremonies, runCeremony } from './passkeys.ts';
import {
  type DeviceTokenStorage,
  defaultDeviceStorage,
  memoryStorage,
  type SharedMemoryStorage,
  type StoredTokens,
  sharedMemoryStorage,
  type TokenStorage,
} from './storage.ts';

/**
 * How the refresh token travels (API.md, "Cookie transport (browsers)"): `body` (the default) in JSON bodies
 * and the client's `storage`; `cookie` in an HttpOnly cookie that the browser keeps and no script can read.
 */
export type TokenTransport = 'body' | 'cookie';

export interface AuthClientOptions {
  /** The API's base URL, e.g. `https://auth.example.com` or an API Gateway stage URL ending in `/prod`. */
  baseUrl: string | URL;
  /**
   * Where tokens are kept; in memory by default. Use {@link localStorageStorage} to share them between tabs.
   * Not with `transport: 'cookie'`, which keeps the access token in memory itself.
   */
  storage?: TokenStorage;
  /**
   * Where this device's device token is kept, across sign-outs (API.md "Known devices": a login that carries
   * it is judged by this device's own failures, so strangers' guesses at the name never hold it out). Every
   * login (password, second factor, passkey) sends it and keeps the one the answer carries. By default
   * `localStorage` in a browser and memory in Node; {@link fileDeviceStorage} keeps it across Node processes.
   * Not with `transport: 'cookie'`, where the service keeps it in an HttpOnly cookie of its own.
   */
  deviceStorage?: DeviceTokenStorage;
  /**
   * `'cookie'` for browsers: login and refresh send `X-Token-Transport: cookie` (with `credentials:
   * 'include'`), the service keeps the refresh token in an HttpOnly, `SameSite=Strict` cookie that no script
   * can read, and the client holds only the access token, in memory, shared with the origin's other tabs
   * through a `BroadcastChannel` (one refresh for all of them, serialised with Web Locks). A new tab or a
   * reload starts with nothing: {@link AuthClient.resume} (or the first {@link AuthClient.fetch}) gets an
   * access token by a refresh with the cookie. The page must be on the API's site (same origin, or e.g.
   * `app.example.com` with the API at `auth.example.com`, listed in `CORS_ORIGINS`). Default `'body'`.
   */
  transport?: TokenTransport;
  /**
   * Refresh this many seconds before the access token expires (default 30), to absorb network latency and
   * clock differences between the API's servers; never more than half the token's lifetime.
   */
  refreshLeewaySeconds?: number;
  /** Refresh in the background shortly before the access token expires, even while no call is made. */
  autoRefresh?: boolean;
  /**
   * Seconds before the client gives up on one of its own requests (login, refresh, logout; default 30), so
   * that a hung refresh cannot hold the cross-tab lock, and so every other tab, forever.
   */
  requestTimeoutSeconds?: number;
  /**
   * Seconds before one refresh attempt is given up as lost and sent once more (default 4; never more than
   * `requestTimeoutSeconds`). Keep it under half the service's `REFRESH_REUSE_GRACE` (10 s by default): the
   * service answers the retry with the very pair the lost attempt was given only within that window.
   */
  refreshTimeoutSeconds?: number;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** The clock, in epoch milliseconds (for tests). */
  now?: () => number;
  /**
   * The browser's WebAuthn ceremonies, for the passkey methods: `await import('@simplewebauthn/browser')` (or
   * anything of its shape). Without them the passkey methods throw `passkeys_unavailable`.
   */
  passkeys?: PasskeyCeremonies;
}

/** What the client tells listeners; never a token. */
export interface AuthEvents {
  signedIn: { accessExpiresAt: number; refreshExpiresAt: number };
  refreshed: { accessExpiresAt: number; refreshExpiresAt: number };
  signedOut: { reason: SignOutReason };
  /**
   * A route refused the session's login as not strong or recent enough (RFC 9470
   * `insufficient_user_authentication`): sign in again (with a second factor) to go on. `reason` is the API's
   * `error_description`; `maxAge` the seconds a login may be old there, when its age was the reason.
   */
  stepUpRequired: { path: string; reason: string; maxAge?: number };
}

/** A second factor a login can be completed with (API.md "Login with a second factor"). */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

/**
 * What {@link AuthClient.login} did: signed in, or the password was right and the account needs a second factor
 * (`methods` lists those enrolled); then {@link AuthClient.completeMfa} finishes the login.
 */
export type LoginResult = { status: 'signed_in' } | { status: 'mfa_required'; methods: SecondFactorMethod[] };

/** The second factor {@link AuthClient.completeMfa} sends: a TOTP code or one of the recovery codes. */
export type SecondFactorProof = { code: string } | { recoveryCode: string };

export interface RegisteredUser {
  userId: string;
  username: string;
  /** The address given at registration, trimmed and lower-cased (a verification mail went to it), else `null`. */
  email: string | null;
}

/** The signed-in user's account (`GET /auth/account`, API.md). */
export interface AccountInfo {
  userId: string;
  username: string;
  /** The account's e-mail address, trimmed and lower-cased; `null` when it has none. */
  email: string | null;
  /** Whether a link mailed to `email` was used (a verification link, or a password reset link). */
  emailVerified: boolean;
  /** The second factors: an authenticator app (TOTP) enrolled, passkeys registered, recovery codes left. */
  mfa: { totp: boolean; passkeys: number; recoveryCodesLeft: number };
}

/**
 * What {@link AuthClient.resetPassword} sends besides the link's token and the new password: nothing for an
 * account without a second factor; for one with it, a TOTP code or one of the recovery codes.
 */
export type ResetProof = Record<string, never> | SecondFactorProof;

/** One of the user's live sessions (`GET /auth/sessions`); times are ISO 8601 UTC strings. */
export interface SessionInfo {
  sessionId: string;
  createdAt: string;
  /** `null` before the session's first refresh. */
  lastRefreshedAt: string | null;
  /** The session's absolute end. */
  expiresAt: string;
  /** As seen at login (at most 256 characters). */
  userAgent: string;
  ipAddress: string;
  /** This client's own session. */
  current: boolean;
}

/** Refresh answers that mean the session is over: no retry can succeed, so the client signs out. */
const sessionEndingCodes = new Set([
  'refresh_token_reused',
  'session_revoked',
  'token_expired',
  'invalid_token',
]);

/**
 * Sends of one refresh: the first, and one retry when its answer is lost (no answer, or a gateway's 502/503/504
 * that may come after the service wrote the rotation). The service answers the retry, presented with the
 * same token within `REFRESH_REUSE_GRACE`, with the very pair the lost answer carried.
 */
const MAX_REFRESH_SENDS = 2;
/** Answers that may hide a rotation the service did write: the request is retried, once. */
const LOST_ANSWER_STATUSES = new Set([502, 503, 504]);
/** The longest wait before that retry (ms), whatever `Retry-After` says: it must land within the grace window. */
const LOST_ANSWER_RETRY_MAX_DELAY = 1_000;
/**
 * Servers before contract v2 answer a refresh that lost a race `409 refresh_conflict`: then wait this long
 * (ms, cumulative ~0.8 s) for the winner's pair to reach the shared storage. A v2 server never answers 409.
 */
const LEGACY_CONFLICT_WAITS = [0, 25, 50, 100, 200, 400];
/** Background refresh after a transient failure: first retry, doubling up to the cap (ms). */
const RETRY_FIRST = 1_000;
const RETRY_MAX = 60_000;
/**
 * With the cookie transport, how long (ms) a tab that holds the refresh lock waits for another tab's newer
 * pair before refreshing itself: an upper bound paid once per refresh, far below any token's lifetime.
 */
const CROSS_TAB_SETTLE_MS = 50;
/** setTimeout's largest delay. */
const MAX_TIMER = 2_147_483_647;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client of the auth service for browsers and Node: logs in, keeps the token pair, adds
 * `Authorization: Bearer` to API calls and refreshes the pair the way the service expects: both tokens sent,
 * once for any number of concurrent callers (and, with shared storage, across tabs), sent once more when its
 * answer is lost (the service answers that retry with the same pair), and signing out, never looping, when
 * the session is over. A `409 refresh_conflict` from a server before contract v2 is tolerated too.
 */
export class AuthClient {
  readonly #baseUrl: string;
  readonly #storage: TokenStorage;
  /** The device token's storage (`undefined` with the cookie transport: the browser keeps its cookie). */
  readonly #deviceStorage: DeviceTokenStorage | undefined;
  /** With the cookie transport: the storage shared with the other tabs (else `undefined`). */
  readonly #shared: SharedMemoryStorage | undefined;
  readonly #cookie: boolean;
  readonly #fetch: typeof globalThis.fetch;
  readonly #leewayMs: number;
  readonly #timeoutMs: number;
  readonly #refreshTimeoutMs: number;
  readonly #autoRefresh: boolean;
  readonly #now: () => number;
  readonly #passkeys: PasskeyCeremonies | undefined;
  readonly #listeners: { [K in keyof AuthEvents]: Set<(event: AuthEvents[K]) => void> } = {
    signedIn: new Set(),
    refreshed: new Set(),
    signedOut: new Set(),
    stepUpRequired: new Set(),
  };
  /** A login answered `mfa_required`, until {@link completeMfa} finishes it (the `mfaToken` lives 300 s). */
  #pendingMfa: { mfaToken: string; methods: SecondFactorMethod[] } | undefined;
  /** The refresh in flight in this client: every concurrent caller awaits this one. */
  #refreshing: Promise<StoredTokens> | null = null;
  /** The tail of this client's refresh/logout queue. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryDelay = RETRY_FIRST;
  #signedIn = false;
  #unsubscribe: () => void = () => {};

  constructor(options: AuthClientOptions) {
    this.#baseUrl = String(options.baseUrl).replace(/\/+$/, '');
    this.#cookie = options.transport === 'cookie';
    if (options.transport !== undefined && options.transport !== 'body' && !this.#cookie) {
      throw new TypeError(
        `AuthClient: transport must be 'body' or 'cookie', not ${String(options.transport)}`,
      );
    }
    if (this.#cookie) {
      if (options.storage) {
        throw new TypeError(
          "AuthClient: with transport 'cookie' the access token is kept in memory only; leave storage out",
        );
      }
      if (options.deviceStorage) {
        throw new TypeError(
          "AuthClient: with transport 'cookie' the device token is kept in an HttpOnly cookie; leave deviceStorage out",
        );
      }
      this.#shared = sharedMemoryStorage(`auth-session:${this.#baseUrl}`);
      this.#storage = this.#shared;
      this.#deviceStorage = undefined;
    } else {
      this.#storage = options.storage ?? memoryStorage();
      this.#deviceStorage = options.deviceStorage ?? defaultDeviceStorage();
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => fetchImpl(input, init);
    this.#leewayMs = Math.max(0, options.refreshLeewaySeconds ?? 30) * 1000;
    this.#timeoutMs = Math.max(1, options.requestTimeoutSeconds ?? 30) * 1000;
    this.#refreshTimeoutMs = Math.min(
      this.#timeoutMs,
      Math.max(1, options.refreshTimeoutSeconds ?? 4) * 1000,
    );
    this.#autoRefresh = options.autoRefresh ?? false;
    this.#now = options.now ?? Date.now;
    this.#passkeys = options.passkeys;
    this.#unsubscribe = this.#storage.subscribe?.(() => void this.#onStorageChange()) ?? (() => {});
    void this.#onStorageChange();
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof AuthEvents>(event: K, listener: (event: AuthEvents[K]) => void): () => void {
    this.#listeners[event].add(listener);
    return () => this.#listeners[event].delete(listener);
  }

  /**
   * `POST /auth/register`. Does not log in. With `email` (required when the service runs with
   * `REQUIRE_VERIFIED_EMAIL=true`) a verification mail goes to that address. Errors ({@link AuthError} codes):
   * `invalid_request` (a bad username or address), `weak_password`, `username_taken`, `email_taken`.
   */
  async register(username: string, password: string, email?: string): Promise<RegisteredUser> {
    const response = await this.#post('/auth/register', {
      username,
      password,
      ...(email !== undefined && { email }),
    });
    if (response.status !== 201) throw await errorFromResponse(response);
    return (await response.json()) as RegisteredUser;
  }

  /**
   * `POST /auth/login`: starts a new session and keeps its tokens (`{ status: 'signed_in' }`). For an account
   * with a second factor the right password gives `{ status: 'mfa_required', methods }` instead and no session
   * yet: finish with {@link completeMfa}. A wrong password is an {@link AuthError} `invalid_credentials`.
   */
  async login(username: string, password: string): Promise<LoginResult> {
    const response = await this.#post(
      '/auth/login',
      { username, password, ...(await this.#deviceField()) },
      this.#transportHeaders(),
    );
    this.#pendingMfa = undefined;
    if (response.status === 401) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { error?: unknown; mfaToken?: unknown; methods?: unknown } | undefined;
      if (body?.error === 'mfa_required' && typeof body.mfaToken === 'string') {
        const methods = Array.isArray(body.methods) ? (body.methods as SecondFactorMethod[]) : [];
        this.#pendingMfa = { mfaToken: body.mfaToken, methods };
        return { status: 'mfa_required', methods };
      }
    }
    if (response.status !== 200) throw await errorFromResponse(response);
    await this.#keepSession(response);
    return { status: 'signed_in' };
  }

  /**
   * `POST /auth/login/mfa`: finishes a login that answered `mfa_required`, with a TOTP code or a recovery code,
   * and keeps the new session's tokens. A wrong code is an {@link AuthError} `invalid_mfa_code` (try again: the
   * login stays pending until its `mfaToken` dies, after 300 s or 5 wrong codes, then `invalid_token`: log in
   * again). Without a pending login, `invalid_token` at once.
   */
  async completeMfa(proof: SecondFactorProof): Promise<void> {
    const pending = this.#requirePendingMfa();
    await this.#finishMfa(pending, { ...proof }, 'invalid_mfa_code');
  }

  /**
   * Finishes a login that answered `mfa_required` with one of the user's passkeys (`methods` includes
   * `'passkey'`): `POST /auth/login/mfa/options` for the pending `mfaToken`, the browser's ceremony (it offers
   * only that user's passkeys), then `POST /auth/login/mfa` with the assertion; keeps the new session's tokens.
   * A refused passkey is an {@link AuthError} `invalid_credentials` and a cancelled ceremony
   * `passkey_ceremony_failed`: the login stays pending (try again, or use a code) until its `mfaToken` dies.
   */
  async completeMfaWithPasskey(): Promise<void> {
    const ceremonies = requireCeremonies(this.#passkeys);
    const pending = this.#requirePendingMfa();
    const options = await this.#post('/auth/login/mfa/options', { mfaToken: pending.mfaToken });
    if (options.status !== 200) {
      const error = await errorFromResponse(options);
      if (error.code === 'invalid_token' && this.#pendingMfa === pending) this.#pendingMfa = undefined;
      throw error;
    }
    const optionsJSON = await options.json();
    const assertion = await runCeremony(() =>
      ceremonies.startAuthentication({ optionsJSON: optionsJSON as never }),
    );
    await this.#finishMfa(pending, { passkey: assertion }, 'invalid_credentials');
  }

  #requirePendingMfa(): { mfaToken: string; methods: SecondFactorMethod[] } {
    const pending = this.#pendingMfa;
    if (!pending)
      throw new AuthError('invalid_token', 'No login is waiting for a second factor; log in first.', {
        status: 0,
      });
    return pending;
  }

  /** `POST /auth/login/mfa` for `pending`; a refusal with `retryable` keeps the login pending, any other ends it. */
  async #finishMfa(
    pending: { mfaToken: string },
    proof: Record<string, unknown>,
    retryable: string,
  ): Promise<void> {
    const response = await this.#post(
      '/auth/login/mfa',
      { mfaToken: pending.mfaToken, ...proof, ...(await this.#deviceField()) },
      this.#transportHeaders(),
    );
    if (response.status !== 200) {
      const error = await errorFromResponse(response);
      if (error.code !== retryable && this.#pendingMfa === pending) this.#pendingMfa = undefined;
      throw error;
    }
    if (this.#pendingMfa === pending) this.#pendingMfa = undefined;
    await this.#keepSession(response);
  }

  /** The second factors a pending login (answered `mfa_required`) may be completed with; `[]` when none is. */
  get pendingSecondFactors(): SecondFactorMethod[] {
    return [...(this.#pendingMfa?.methods ?? [])];
  }

  /**
   * Signs in with a passkey, no username or password: `POST /auth/passkeys/login/options`, the browser's
   * ceremony (it offers the user's passkeys for this site), then `POST /auth/passkeys/login`; keeps the new
   * session's tokens as {@link login} does. A refused passkey is an `AuthError` `invalid_credentials`; a
   * ceremony the user cancels, `passkey_ceremony_failed`.
   */
  async loginWithPasskey(): Promise<void> {
    const ceremonies = requireCeremonies(this.#passkeys);
    const options = await this.#post('/auth/passkeys/login/options', {});
    if (options.status !== 200) throw await errorFromResponse(options);
    const { challengeId, ...optionsJSON } = (await options.json()) as { challengeId: string };
    const assertion = await runCeremony(() =>
      ceremonies.startAuthentication({ optionsJSON: optionsJSON as never }),
    );
    const response = await this.#post(
      '/auth/passkeys/login',
      { challengeId, response: assertion, ...(await this.#deviceField()) },
      this.#transportHeaders(),
    );
    if (response.status !== 200) throw await errorFromResponse(response);
    await this.#keepSession(response);
  }

  /**
   * Adds a passkey to the signed-in user: the password is checked again (`POST
   * /auth/passkeys/register/options`; a wrong one counts against this session), the browser creates the
   * credential, and `POST /auth/passkeys/register` stores it under `name` (default: the service's).
   */
  async addPasskey(password: string, name?: string): Promise<PasskeyInfo> {
    const ceremonies = requireCeremonies(this.#passkeys);
    const options = await this.fetch('/auth/passkeys/register/options', jsonPost({ password }));
    if (options.status !== 200) throw await this.#failure(options);
    const optionsJSON = await options.json();
    const credential = await runCeremony(() =>
      ceremonies.startRegistration({ optionsJSON: optionsJSON as never }),
    );
    const response = await this.fetch(
      '/auth/passkeys/register',
      jsonPost({ response: credential, ...(name !== undefined && { name }) }),
    );
    if (response.status !== 201) throw await this.#failure(response);
    return (await response.json()) as PasskeyInfo;
  }

  /** `GET /auth/passkeys`: the signed-in user's passkeys, oldest first. */
  async listPasskeys(): Promise<PasskeyInfo[]> {
    const response = await this.fetch('/auth/passkeys');
    if (response.status !== 200) throw await this.#failure(response);
    return ((await response.json()) as { passkeys: PasskeyInfo[] }).passkeys;
  }

  /** `PATCH /auth/passkeys/{passkeyId}`: renames one of the user's passkeys. */
  async renamePasskey(passkeyId: string, name: string): Promise<PasskeyInfo> {
    const response = await this.fetch(`/auth/passkeys/${encodeURIComponent(passkeyId)}`, {
      ...jsonPost({ name }),
      method: 'PATCH',
    });
    if (response.status !== 200) throw await this.#failure(response);
    return (await response.json()) as PasskeyInfo;
  }

  /** `DELETE /auth/passkeys/{passkeyId}`: deletes one of the user's passkeys (it signs no one in from then on). */
  async deletePasskey(passkeyId: string): Promise<void> {
    const response = await this.fetch(`/auth/passkeys/${encodeURIComponent(passkeyId)}`, {
      method: 'DELETE',
    });
    if (response.status !== 204) throw await this.#failure(response);
  }

  /** Keeps the token pair of a login's answer (password or passkey) as this client's session. */
  async #keepSession(response: Response): Promise<void> {
    const tokens = await this.#tokensFrom(response);
    // Under the refresh lock: a refresh of an earlier session still in flight lands first, so its outcome
    // (a new pair of the old session, or a sign-out) can never overwrite or clear this login's pair.
    await this.#withLock(async () => {
      await this.#storage.set(tokens);
    });
    this.#signedIn = true;
    this.#schedule(tokens);
    this.#emit('signedIn', expiries(tokens));
  }

  /**
   * `POST /auth/logout`: ends this session on the server and forgets its tokens. The tokens are forgotten
   * even when the server cannot be reached; the error then says the server-side session may live on.
   */
  async logout(): Promise<void> {
    // Under the refresh lock: a refresh finishing after the logout would store a new pair, so a refresh in
    // flight lands first, and one that comes later finds the storage empty.
    await this.#withLock(async () => {
      const tokens = await this.#storage.get();
      // With the cookie transport the cookie may hold a session this tab has not resumed: end it all the same.
      if (!tokens && !this.#cookie) return this.#endSession('logged_out');
      let response: Response;
      try {
        response = this.#cookie
          ? await this.#post('/auth/logout', undefined, {
              ...this.#transportHeaders(),
              ...(tokens && { authorization: `Bearer ${tokens.accessToken}` }),
            })
          : await this.#post(
              '/auth/logout',
              { refreshToken: tokens?.refreshToken },
              { authorization: `Bearer ${tokens?.accessToken}` },
            );
      } finally {
        await this.#endSession('logged_out');
      }
      // 401: the tokens no longer verify, so nothing is left to end; 400 with the cookie transport: no token
      // at all (no cookie, nothing resumed).
      const done = response.status === 204 || response.status === 401;
      if (!done && !(this.#cookie && !tokens && response.status === 400))
        throw await errorFromResponse(response);
    });
  }

  /** `POST /auth/logout-all`: ends every session of the user, this one included. */
  async logoutAll(): Promise<void> {
    const response = await this.fetch('/auth/logout-all', { method: 'POST' });
    if (response.status === 204) {
      await this.#endSession('logged_out_everywhere');
      return;
    }
    const error = await errorFromResponse(response);
    if (sessionEndingCodes.has(error.code)) throw await this.#endSession(error.code as SignOutReason, error);
    throw error;
  }

  /** `GET /auth/sessions`: the user's live sessions, newest first; this client's own is marked `current`. */
  async listSessions(): Promise<SessionInfo[]> {
    const response = await this.fetch('/auth/sessions');
    if (response.status !== 200) throw await this.#failure(response);
    return ((await response.json()) as { sessions: SessionInfo[] }).sessions;
  }

  /**
   * `DELETE /auth/sessions/{sessionId}`: revokes one of the user's sessions at once (another device's, or this
   * one: then this client is signed out, as by {@link logout}).
   */
  async revokeSession(sessionId: string): Promise<void> {
    const own = this.#sessionIdOf(await this.#storage.get());
    const response = await this.fetch(`/auth/sessions/${encodeURIComponent(sessionId)}`, {
      method: 'DELETE',
    });
    if (response.status !== 204) throw await this.#failure(response);
    if (sessionId === own) await this.#endSession('logged_out');
  }

  /**
   * `POST /auth/password`: changes the password. Every other session of the user is revoked; this one stays.
   * A wrong `currentPassword` is an `AuthError` `invalid_credentials` (it counts against this session), a weak new
   * one `weak_password`.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    const response = await this.fetch('/auth/password', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword, newPassword }),
    });
    if (response.status !== 204) throw await this.#failure(response);
  }

  /** `DELETE /auth/account`: deletes the account (every session ends) and signs this client out. */
  async deleteAccount(password: string): Promise<void> {
    const response = await this.fetch('/auth/account', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }),
    });
    if (response.status !== 204) throw await this.#failure(response);
    await this.#endSession('account_deleted');
  }

  // Account recovery by e-mail (API.md "E-mail and account recovery"). The link methods take the `token` of a
  // mailed link (the `token` parameter of its fragment or query: see {@link linkToken}); none of them needs a
  // session, and none signs anyone in.

  /**
   * `POST /auth/password/forgot`: asks for a password-reset mail to `email`. Resolves the same way whether or
   * not the address belongs to an account (the service answers `202 {}` to every well-formed address, and looks
   * it up out of band), so nothing here says whether a mail will come: at most 3 reset mails an hour go to an
   * account. A malformed address is an {@link AuthError} `invalid_request`; a client address that asks too
   * often is still answered `202`, with no mail.
   */
  async forgotPassword(email: string): Promise<void> {
    const response = await this.#post('/auth/password/forgot', { email });
    if (response.status !== 202) throw await errorFromResponse(response);
    await response.body?.cancel();
  }

  /**
   * `POST /auth/password/reset`: sets a new password with the `token` of a reset link. Every session of the
   * user ends (this client's too, if it is that user's: its next call finds the session revoked and signs it
   * out), every other reset link of the user dies, and the address counts as verified. Errors
   * ({@link AuthError} codes): `invalid_link` (unknown, used, expired, or superseded by a later reset or
   * password change: ask for a new mail), `weak_password` and `invalid_request` (the link stays usable: try
   * again), and for an account with a second factor `mfa_required` (send `proof`) or `invalid_mfa_code` (a
   * wrong one; the link stays usable; wrong codes count toward the second factor's limit).
   */
  async resetPassword(token: string, newPassword: string, proof: ResetProof = {}): Promise<void> {
    const response = await this.#post('/auth/password/reset', { token, newPassword, ...proof });
    if (response.status !== 204) throw await errorFromResponse(response);
  }

  /**
   * `POST /auth/email/verify`: verifies the account's address with the `token` of a verification link (if the
   * account still has the address the link was sent to). `invalid_link` when the link is unknown, used,
   * expired (after `EMAIL_VERIFICATION_TTL`, a day by default) or the address has changed since.
   */
  async verifyEmail(token: string): Promise<void> {
    const response = await this.#post('/auth/email/verify', { token });
    if (response.status !== 204) throw await errorFromResponse(response);
  }

  /**
   * `POST /auth/email/resend` (signed in): sends the verification mail again, at most 3 times an hour
   * (`too_many_attempts` beyond, with `retryAfter` in seconds). Resolves without a mail when the address is
   * verified already; `invalid_request` when the account has no address.
   */
  async resendVerification(): Promise<void> {
    const response = await this.fetch('/auth/email/resend', { method: 'POST' });
    if (response.status !== 202) throw await this.#failure(response);
    await response.body?.cancel();
  }

  /**
   * `POST /auth/email` (signed in): sets the account's address to `email`, unverified; a verification mail goes
   * to it and a notice to the previous address. The password is checked again: a wrong one is an
   * {@link AuthError} `invalid_credentials` (it counts toward the lockout). `email_taken` when another account
   * has the address, `invalid_request` when it is malformed.
   */
  async changeEmail(email: string, password: string): Promise<void> {
    const response = await this.fetch('/auth/email', jsonPost({ email, password }));
    if (response.status !== 204) throw await this.#failure(response);
  }

  /** `GET /auth/account` (signed in): the user's name, address and whether it is verified, and second factors. */
  async getAccount(): Promise<AccountInfo> {
    const response = await this.fetch('/auth/account');
    if (response.status !== 200) throw await this.#failure(response);
    return (await response.json()) as AccountInfo;
  }

  /**
   * An authenticated call to the API: `path` (e.g. `/me`) is taken relative to the base URL, and tokens are
   * only ever sent there. Refreshes first when the access token is about to expire, and once more (then
   * retries once) when the API answers 401 about the token (a 401 `invalid_credentials`, a wrong password
   * sent in the body, is returned as it is: sending it again would count a second failure). Throws {@link SignedOutError} when there is no usable session.
   * The body must be replayable (a string, not a stream), since a call may be sent twice.
   */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = this.#url(path);
    let tokens = (await this.#storage.get()) ?? (this.#cookie ? await this.#resumed() : null);
    if (!tokens) throw new SignedOutError('no_session');
    if (this.#needsRefresh(tokens)) {
      try {
        tokens = await this.#refresh(tokens);
      } catch (error) {
        // A passing failure (network, 503) while the token still lives: use it rather than fail the call.
        if (error instanceof SignedOutError || this.#now() >= tokens.accessExpiresAt) throw error;
      }
    }
    const first = await this.#send(url, init, tokens.accessToken);
    if (first.status !== 401) return first;
    // A step-up refusal: the token is fine, the login is not enough for this route. Refreshing cannot help
    // (a refresh keeps the login's auth_time and amr): the app is told, and signs the user in again.
    if (this.#stepUpRequired(path, first)) return first;
    const answer = (await first
      .clone()
      .json()
      .catch(() => undefined)) as { error?: unknown } | undefined;
    if (answer?.error === 'invalid_credentials') return first;
    await first.body?.cancel();
    // Reactive refresh, once: a second 401 is returned to the caller as it is, never refreshed again.
    const renewed = await this.#refresh(tokens);
    const second = await this.#send(url, init, renewed.accessToken);
    if (second.status === 401) this.#stepUpRequired(path, second);
    return second;
  }

  /** Emits `stepUpRequired` when `response` carries RFC 9470's challenge; returns whether it did. */
  #stepUpRequired(path: string, response: Response): boolean {
    const challenge = response.headers.get('www-authenticate') ?? '';
    if (!/error="insufficient_user_authentication"/.test(challenge)) return false;
    const reason = /error_description="([^"]*)"/.exec(challenge)?.[1] ?? 'Sign in again to go on.';
    const maxAge = /max_age=(\d+)/.exec(challenge)?.[1];
    this.#emit('stepUpRequired', { path, reason, ...(maxAge !== undefined && { maxAge: Number(maxAge) }) });
    return true;
  }

  /** The stored tokens (for display or a caller's own use), or `null` when signed out. */
  async tokens(): Promise<StoredTokens | null> {
    const tokens = await this.#storage.get();
    return tokens && { ...tokens };
  }

  /**
   * With the cookie transport, in a new tab or after a reload: gets an access token by a refresh with the
   * cookie (one for all tabs: under the cross-tab lock, and a tab that has one shares it). Resolves to
   * whether the client is signed in; `signedIn` is emitted when it becomes so. With the body transport it
   * only says whether the storage holds a session. Throws on a passing failure (network, 5xx), never for
   * "no session".
   */
  async resume(): Promise<boolean> {
    if (await this.#storage.get()) return true;
    if (!this.#cookie) return false;
    return (await this.#resumed()) !== null;
  }

  /** A refresh with only the cookie; `null` when there is no session to resume (no cookie, or a dead one). */
  async #resumed(): Promise<StoredTokens | null> {
    try {
      const tokens = await this.#refresh(null);
      if (!this.#signedIn) {
        this.#signedIn = true;
        this.#emit('signedIn', expiries(tokens));
      }
      return tokens;
    } catch (error) {
      if (error instanceof SignedOutError) return null;
      throw error;
    }
  }

  /** Stops the background refresh and the storage subscription (and, with the cookie transport, its channel). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe();
    this.#shared?.close();
  }

  /**
   * The `deviceToken` field a login sends (API.md "Known devices"): this device's token when it has one. With
   * the cookie transport none: the browser sends the token's HttpOnly cookie to the login routes itself.
   */
  async #deviceField(): Promise<{ deviceToken?: string }> {
    const token = await this.#deviceStorage?.get();
    return token ? { deviceToken: token } : {};
  }

  /** What every request that carries or receives a refresh token adds with the cookie transport. */
  #transportHeaders(): Record<string, string> {
    return this.#cookie ? { 'x-token-transport': 'cookie' } : {};
  }

  #url(path: string): string {
    // Only paths: an absolute URL could send the bearer token to another origin.
    if (!path.startsWith('/') || path.startsWith('//')) {
      throw new TypeError(`AuthClient.fetch takes a path on the API starting with "/", not "${path}"`);
    }
    return this.#baseUrl + path;
  }

  async #send(url: string, init: RequestInit, accessToken: string): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${accessToken}`);
    try {
      return await this.#fetch(url, { ...init, headers });
    } catch (cause) {
      throw new AuthError('network_error', 'The API could not be reached.', { cause });
    }
  }

  async #post(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    timeoutMs = this.#timeoutMs,
  ): Promise<Response> {
    try {
      return await this.#fetch(this.#url(path), {
        method: 'POST',
        headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        // The cookie transport's cookie goes along to an API on another origin of the same site too.
        ...(this.#cookie && { credentials: 'include' as const }),
      });
    } catch (cause) {
      throw new AuthError('network_error', 'The API could not be reached.', { cause });
    }
  }

  async #tokensFrom(response: Response): Promise<StoredTokens> {
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    const { accessToken, refreshToken, expiresIn, refreshExpiresIn } = body ?? {};
    if (
      typeof accessToken !== 'string' ||
      // With the cookie transport the refresh token is in the cookie, never in the body.
      (typeof refreshToken !== 'string' && !this.#cookie) ||
      typeof expiresIn !== 'number' ||
      typeof refreshExpiresIn !== 'number'
    ) {
      throw new AuthError('unexpected_response', 'The token response is malformed.', {
        status: response.status,
      });
    }
    // A login's device token is kept across sign-outs (a refresh answers none); never cleared by a logout.
    if (typeof body?.deviceToken === 'string' && body.deviceToken !== '')
      await this.#deviceStorage?.set(body.deviceToken);
    // Expiry counted on this device's clock from the lifetimes, so a skewed device clock does not matter.
    const obtainedAt = this.#now();
    return {
      accessToken,
      ...(!this.#cookie && { refreshToken: refreshToken as string }),
      obtainedAt,
      accessExpiresAt: obtainedAt + expiresIn * 1000,
      refreshExpiresAt: obtainedAt + refreshExpiresIn * 1000,
    };
  }

  #refreshAt(tokens: StoredTokens): number {
    const lifetime = tokens.accessExpiresAt - tokens.obtainedAt;
    return tokens.accessExpiresAt - Math.min(this.#leewayMs, lifetime / 2);
  }

  #needsRefresh(tokens: StoredTokens): boolean {
    return this.#now() >= this.#refreshAt(tokens);
  }

  /**
   * Single flight: the first caller starts the refresh, every concurrent caller awaits the same one. `stale` is
   * the pair the caller found wanting; `null` to resume with the cookie alone (cookie transport).
   */
  #refresh(stale: StoredTokens | null): Promise<StoredTokens> {
    this.#refreshing ??= this.#withLock(() => this.#refreshUnderLock(stale)).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * Runs refreshes and logouts one at a time: in this client through a queue, and with other contexts
   * sharing the storage (tabs) through Web Locks where both exist. Never nested (that would deadlock).
   */
  #withLock<T>(operation: () => Promise<T>): Promise<T> {
    const run = () => this.#withWebLock(operation);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #withWebLock<T>(operation: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
    const name = this.#storage.lockName;
    if (!name || typeof locks?.request !== 'function') return operation();
    return locks.request(name, () => operation());
  }

  async #refreshUnderLock(stale: StoredTokens | null): Promise<StoredTokens> {
    const wanting = (tokens: StoredTokens | null) =>
      tokens === null || tokens.accessToken === stale?.accessToken || this.#needsRefresh(tokens);
    let current = await this.#storage.get();
    if (this.#shared && wanting(current)) {
      // With the cookie transport each tab holds its own copy, which a tab that refreshed just before sent on
      // before it released the lock; the message and the lock grant are not ordered with each other, so give
      // that pair a moment to land before refreshing again.
      await this.#shared.settle(CROSS_TAB_SETTLE_MS);
      current = await this.#storage.get();
    }
    // With the cookie transport the cookie is the session: holding no access token is no reason to stop.
    if (!current && !this.#cookie) throw await this.#endSession('cleared_elsewhere');
    // Another tab or client already refreshed: continue from its pair. (When its pair has not reached this
    // tab's storage yet, presenting the old token is harmless: within REFRESH_REUSE_GRACE the service answers
    // it with that same new pair, so the tabs converge without waiting for each other.)
    if (current && current.accessToken !== stale?.accessToken && !this.#needsRefresh(current))
      return this.#adopt(current);

    const outcome = await this.#sendRefresh(current);
    if ('tokens' in outcome) {
      await this.#storage.set(outcome.tokens);
      this.#retryDelay = RETRY_FIRST;
      this.#schedule(outcome.tokens);
      this.#emit('refreshed', expiries(outcome.tokens));
      return outcome.tokens;
    }
    const { error } = outcome;
    if (sessionEndingCodes.has(error.code)) throw await this.#endSession(error.code as SignOutReason, error);
    if (current && error.code === 'refresh_conflict' && (await this.#awaitNewerTokens(current.accessToken))) {
      // A server before contract v2: another context won the race, and its pair has reached the storage.
      const newer = await this.#storage.get();
      if (newer) return this.#adopt(newer);
    }
    throw error; // 429, 5xx, a 409 with nothing newer: the session may be fine; keep it
  }

  /**
   * Sends one refresh with both tokens (the original design: the access token lets an expired refresh token
   * through), and sends it once more, with the same tokens, when the answer is lost. Returns the new tokens,
   * or the error the service (or the network) answered.
   */
  async #sendRefresh(current: StoredTokens | null): Promise<{ tokens: StoredTokens } | { error: AuthError }> {
    // With the cookie transport the refresh token rides in its cookie; the access token (if any) still comes.
    const body = this.#cookie
      ? { ...(current && { accessToken: current.accessToken }) }
      : { refreshToken: current?.refreshToken, accessToken: current?.accessToken };
    for (let send = 1; ; send += 1) {
      const last = send >= MAX_REFRESH_SENDS;
      let response: Response;
      try {
        response = await this.#post('/auth/refresh', body, this.#transportHeaders(), this.#refreshTimeoutMs);
      } catch (error) {
        // No answer (a dropped connection, a timeout): the service may have rotated all the same.
        if (last) return { error: error as AuthError };
        continue;
      }
      if (response.status === 200) {
        try {
          return { tokens: await this.#tokensFrom(response) };
        } catch (error) {
          // The answer broke off mid-body: as lost as no answer at all.
          if (last) return { error: error as AuthError };
          continue;
        }
      }
      const error = await errorFromResponse(response);
      if (last || !LOST_ANSWER_STATUSES.has(response.status)) return { error };
      await sleep(Math.min(LOST_ANSWER_RETRY_MAX_DELAY, (error.retryAfter ?? 0) * 1000));
    }
  }

  /** Waits, bounded, for a pair other than the one of access token `seen` to reach the storage; false if none. */
  async #awaitNewerTokens(seen: string): Promise<boolean> {
    for (const wait of LEGACY_CONFLICT_WAITS) {
      await sleep(wait);
      const tokens = await this.#storage.get();
      if (!tokens) throw await this.#endSession('cleared_elsewhere');
      if (tokens.accessToken !== seen) return true;
    }
    return false;
  }

  #adopt(tokens: StoredTokens): StoredTokens {
    this.#schedule(tokens);
    return tokens;
  }

  /** The error of an answer; one that says the session is over also signs this client out. */
  async #failure(response: Response): Promise<AuthError> {
    const error = await errorFromResponse(response);
    if (sessionEndingCodes.has(error.code)) return this.#endSession(error.code as SignOutReason, error);
    return error;
  }

  /** The session id (`sid`) of the stored access token, read without verification (the server verifies). */
  #sessionIdOf(tokens: StoredTokens | null): string | undefined {
    const payload = tokens?.accessToken.split('.')[1];
    if (!payload) return undefined;
    try {
      const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
      const sid = (JSON.parse(json) as { sid?: unknown }).sid;
      return typeof sid === 'string' ? sid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forgets the tokens and tells the listeners, once; returns the error for callers to throw. */
  async #endSession(reason: SignOutReason, cause?: AuthError): Promise<SignedOutError> {
    clearTimeout(this.#timer);
    await this.#storage.clear();
    this.#markSignedOut(reason);
    return new SignedOutError(reason, { status: cause?.status ?? 0, cause });
  }

  #markSignedOut(reason: SignOutReason): void {
    if (!this.#signedIn) return;
    this.#signedIn = false;
    this.#emit('signedOut', { reason });
  }

  /** Another context changed the storage (or the client starts): follow it. */
  async #onStorageChange(): Promise<void> {
    const tokens = await this.#storage.get();
    if (!tokens) {
      clearTimeout(this.#timer);
      this.#markSignedOut('cleared_elsewhere');
      return;
    }
    this.#schedule(tokens);
    if (!this.#signedIn) {
      this.#signedIn = true;
      this.#emit('signedIn', expiries(tokens));
    }
  }

  #schedule(tokens: StoredTokens): void {
    clearTimeout(this.#timer);
    if (!this.#autoRefresh) return;
    const delay = Math.min(MAX_TIMER, Math.max(0, this.#refreshAt(tokens) - this.#now()));
    this.#timer = setTimeout(() => void this.#backgroundRefresh(), delay);
    unrefTimer(this.#timer);
  }

  async #backgroundRefresh(): Promise<void> {
    const tokens = await this.#storage.get();
    if (!tokens) return;
    // Another tab may have refreshed meanwhile; then only the timer moves.
    if (!this.#needsRefresh(tokens)) return this.#schedule(tokens);
    try {
      await this.#refresh(tokens);
    } catch (error) {
      if (error instanceof SignedOutError) return; // listeners have been told
      // A passing failure: try again later, backing off; a refresh never runs in a tight loop.
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.#backgroundRefresh(), this.#retryDelay);
      unrefTimer(this.#timer);
      this.#retryDelay = Math.min(RETRY_MAX, this.#retryDelay * 2);
    }
  }

  #emit<K extends keyof AuthEvents>(event: K, payload: AuthEvents[K]): void {
    for (const listener of this.#listeners[event]) {
      try {
        listener(payload);
      } catch (error) {
        // A listener's fault must not break the refresh that told it.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

const expiries = (tokens: StoredTokens) => ({
  accessExpiresAt: tokens.accessExpiresAt,
  refreshExpiresAt: tokens.refreshExpiresAt,
});

/** In Node, a pending background refresh must not keep the process alive. */
function unrefTimer(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/** A JSON `POST` for {@link AuthClient.fetch}. */
const jsonPost = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The `token` of a mailed link (a reset or verification link: `https://…/reset-password#token=…`), from its
 * fragment or, failing that, its query; `null` when it carries none. Pass `location.href` on the page the link
 * opens. Reading it sends nothing: only {@link AuthClient.resetPassword} / {@link AuthClient.verifyEmail} use it.
 */
export function linkToken(link: string | URL): string | null {
  const url = new URL(link);
  return new URLSearchParams(url.hash.slice(1)).get('token') ?? url.searchParams.get('token');
}

/** Creates an {@link AuthClient}. */
export const createAuthClient = (options: AuthClientOptions): AuthClient => new AuthClient(options);
