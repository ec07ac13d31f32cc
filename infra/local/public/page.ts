// What every section of the demo page shares: finding its elements, the one time format, the event log, the
// messages shown for errors, and the page's signed-in / signed-out state.
import { type AuthClient, AuthError, type AuthErrorCode, SignedOutError } from '@lambda-token-auth/client';

/** The element with `id`, or a clear failure when the page lacks it (a section out of step with index.html). */
export const element = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
};

/**
 * The one way the page writes a moment: day, month and a 24-hour clock to the second, in the reader's locale
 * and time zone ("2 Dec, 01:23:45"), inside a `<time datetime>` for machines.
 */
const timeFormat = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});
export const formatTime = (at: number | string | Date): string => timeFormat.format(new Date(at));
export function timeElement(at: number | string | Date): HTMLTimeElement {
  const time = document.createElement('time');
  time.dateTime = new Date(at).toISOString();
  time.textContent = formatTime(at);
  return time;
}

/** Adds a line to the Events card (newest first). */
export function logEvent(text: string): void {
  const events = document.getElementById('events');
  if (!events) return;
  const item = document.createElement('li');
  item.append(timeElement(Date.now()), text);
  events.prepend(item);
}

/** Where an error happened: the same code can mean different things to the person reading it. */
export type ErrorContext =
  | 'login'
  | 'register'
  | 'change-password'
  | 'delete-account'
  | 'add-passkey'
  | 'passkey-login'
  | 'general';

const generalMessages: Partial<Record<AuthErrorCode, string>> = {
  invalid_credentials: 'The username or password is incorrect.',
  account_disabled: 'This account is disabled. Ask an administrator to enable it.',
  username_taken: 'That username is taken; choose another one.',
  service_unavailable: 'The service is briefly unavailable; try again in a moment.',
  network_error: 'The service cannot be reached; check the connection and try again.',
  payload_too_large: 'That is too long.',
  internal_error: 'Something went wrong on the server; try again.',
  unexpected_response: 'The service gave an answer this page does not understand.',
};

/** Per context, the codes whose general wording would mislead (a wrong *current* password is not a login). */
const contextMessages: Record<ErrorContext, Partial<Record<AuthErrorCode, string>>> = {
  login: {},
  register: {},
  'change-password': {
    invalid_credentials: 'The current password is not right; the password was not changed.',
  },
  'delete-account': {
    invalid_credentials: 'The password is not right; the account was not deleted.',
  },
  'add-passkey': {
    invalid_credentials: 'The password is not right; no passkey was added.',
    passkey_ceremony_failed:
      'No passkey was created: the browser prompt was cancelled, or this device has one already.',
  },
  'passkey-login': {
    invalid_credentials: 'That passkey was not accepted.',
    passkey_ceremony_failed: 'No passkey was used: the browser prompt was cancelled or found none.',
  },
  general: {},
};

/**
 * The sentence to show for `error` in `context`. Codes whose server message says what to fix
 * (`weak_password`, `invalid_request`) show that message; `too_many_attempts` says how long to wait.
 */
export function messageFor(error: unknown, context: ErrorContext = 'general'): string {
  if (error instanceof SignedOutError) return error.message;
  if (!(error instanceof AuthError)) return error instanceof Error ? error.message : String(error);
  if (error.code === 'too_many_attempts') {
    return error.retryAfter
      ? `Too many failed attempts. Try again in ${error.retryAfter} s.`
      : 'Too many failed attempts. Try again later.';
  }
  return contextMessages[context][error.code] ?? generalMessages[error.code] ?? error.message;
}

/** Shows `text` in a message line, as an error or not. */
export function showMessage(target: HTMLElement, text: string, isError = false): void {
  target.textContent = text;
  target.classList.toggle('error', isError);
}

/**
 * The page's sign-in state, for the sections: `onSignedIn` / `onSignedOut` run when it changes (the tokens
 * appearing or disappearing, in this tab or another), and once at start for the state the page opens in;
 * `onTick` runs after them on every {@link PageState.update} (four times a second, and after an action), so a
 * card never shows "Signed out" before the cards have been cleared.
 */
export interface PageState {
  client: AuthClient;
  signedIn(): boolean;
  onSignedIn(listener: () => void): void;
  onSignedOut(listener: () => void): void;
  onTick(listener: () => Promise<void> | void): void;
  /** Reads the stored tokens, runs the listeners of a change, then the ticks. */
  update(): Promise<void>;
}

export function pageState(client: AuthClient): PageState {
  let signedIn: boolean | undefined;
  const inListeners: (() => void)[] = [];
  const outListeners: (() => void)[] = [];
  const tickListeners: (() => Promise<void> | void)[] = [];
  return {
    client,
    signedIn: () => signedIn === true,
    onSignedIn: (listener) => void inListeners.push(listener),
    onSignedOut: (listener) => void outListeners.push(listener),
    onTick: (listener) => void tickListeners.push(listener),
    async update() {
      const now = (await client.tokens()) !== null;
      if (now !== signedIn) {
        signedIn = now;
        for (const element of document.querySelectorAll<HTMLElement>('[data-signed-in-only]'))
          element.hidden = !now;
        for (const element of document.querySelectorAll<HTMLElement>('[data-signed-out-only]'))
          element.hidden = now;
        for (const listener of now ? inListeners : outListeners) listener();
      }
      for (const listener of tickListeners) await listener();
    },
  };
}

/** Tells the sections who is signed in, once the page knows (see {@link onUsername}). */
export function announceUsername(username: string): void {
  document.dispatchEvent(new CustomEvent<string>('demo-username', { detail: username }));
}
export function onUsername(listener: (username: string) => void): void {
  document.addEventListener('demo-username', (event) => listener((event as CustomEvent<string>).detail));
}

/** Empties every password field of `form`: nothing typed outlives its use, or a sign-out. */
export function clearPasswords(root: ParentNode = document): void {
  for (const input of root.querySelectorAll<HTMLInputElement>('input[type="password"]')) input.value = '';
}
