// The demo page's script: the client SDK driving a plain page. Bundled by the local server (demo-page.ts).
import {
  AuthError,
  createAuthClient,
  localStorageStorage,
  type SessionInfo,
  type SignOutReason,
} from '@lambda-token-auth/client';

const client = createAuthClient({
  baseUrl: location.origin,
  storage: localStorageStorage('demo-auth-tokens'),
  autoRefresh: true,
});

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
};

const form = element<HTMLFormElement>('account-form');
const username = element<HTMLInputElement>('username');
const password = element<HTMLInputElement>('password');
const accountMessage = element('account-message');
const status = element('status');
const accessLeft = element('access-left');
const accessBar = element<HTMLProgressElement>('access-bar');
const refreshLeft = element('refresh-left');
const refreshBar = element<HTMLProgressElement>('refresh-bar');
const generationLabel = element('generation');
const refreshCount = element('refresh-count');
const lastRefresh = element('last-refresh');
const callMe = element<HTMLButtonElement>('call-me');
const logout = element<HTMLButtonElement>('logout');
const logoutAll = element<HTMLButtonElement>('logout-all');
const meOutput = element('me-output');
const devices = element<HTMLUListElement>('devices');
const refreshDevices = element<HTMLButtonElement>('refresh-devices');
const devicesMessage = element('devices-message');
const passwordForm = element<HTMLFormElement>('password-form');
const currentPassword = element<HTMLInputElement>('current-password');
const newPassword = element<HTMLInputElement>('new-password');
const changePassword = element<HTMLButtonElement>('change-password');
const passwordMessage = element('password-message');
const events = element('events');

const signOutWords: Record<SignOutReason, string> = {
  logged_out: 'logged out',
  logged_out_everywhere: 'logged out everywhere',
  account_deleted: 'account deleted',
  refresh_token_reused: 'session revoked: a refresh token was reused',
  session_revoked: 'session revoked',
  token_expired: 'session expired',
  invalid_token: 'tokens no longer valid',
  cleared_elsewhere: 'signed out in another tab',
  no_session: 'not signed in',
};

const clockTime = (at: number) => new Date(at).toLocaleTimeString([], { hour12: false });

function logEvent(text: string): void {
  const item = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = clockTime(Date.now());
  item.append(time, text);
  events.prepend(item);
}

function describe(error: unknown): string {
  if (error instanceof AuthError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

function showAccountMessage(text: string, isError = false): void {
  accountMessage.textContent = text;
  accountMessage.classList.toggle('error', isError);
}

function formatLeft(ms: number): string {
  if (ms <= 0) return 'expired';
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s left`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s left`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min left`;
}

let refreshes = 0;
let generation = 0;
let lastAccessToken: string | null = null;

client.on('signedIn', () => {
  logEvent('signed in');
  void renderDevices();
});
client.on('refreshed', () => {
  refreshes += 1;
  refreshCount.textContent = String(refreshes);
  lastRefresh.textContent = `(last at ${clockTime(Date.now())})`;
  logEvent('tokens refreshed automatically');
});
client.on('signedOut', ({ reason }) => {
  logEvent(signOutWords[reason]);
  meOutput.textContent = 'Signed out.';
  // "Logged in as ..." would be stale from here on, whichever tab or reason ended the session.
  showAccountMessage('');
  devices.replaceChildren();
});

/** One device of the list: what it is, where from, since when; this one marked, the others revocable. */
function deviceItem(session: SessionInfo): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.sessionId = session.sessionId;
  const what = document.createElement('span');
  what.className = 'device';
  what.textContent = session.userAgent || 'unknown device';
  const where = document.createElement('span');
  where.className = 'muted';
  const refreshed = session.lastRefreshedAt
    ? `, last refreshed ${clockTime(Date.parse(session.lastRefreshedAt))}`
    : '';
  where.textContent = ` ${session.ipAddress || 'unknown address'} · signed in ${new Date(session.createdAt).toLocaleString()}${refreshed}`;
  item.append(what, where);
  if (session.current) {
    const badge = document.createElement('span');
    badge.className = 'badge signed-in this-device';
    badge.textContent = 'This device';
    item.append(' ', badge);
  } else {
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'danger revoke';
    revoke.textContent = 'Revoke';
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      try {
        await client.revokeSession(session.sessionId);
        logEvent('revoked a device');
      } catch (error) {
        devicesMessage.textContent = describe(error);
      }
      await renderDevices();
    });
    item.append(' ', revoke);
  }
  return item;
}

/** Redraws "Your devices" from the server's list (it never shows a token). */
async function renderDevices(): Promise<void> {
  if (!(await client.tokens())) {
    devices.replaceChildren();
    return;
  }
  try {
    const sessions = await client.listSessions();
    devices.replaceChildren(...sessions.map(deviceItem));
    devicesMessage.textContent = `${sessions.length} device${sessions.length === 1 ? '' : 's'}`;
  } catch (error) {
    devicesMessage.textContent = describe(error);
  }
}

/** Redraws the session card from the stored tokens; runs four times a second. */
async function render(): Promise<void> {
  const tokens = await client.tokens();
  const signedIn = tokens !== null;
  status.textContent = signedIn ? 'Signed in' : 'Signed out';
  status.className = `badge ${signedIn ? 'signed-in' : 'signed-out'}`;
  callMe.disabled =
    logout.disabled =
    logoutAll.disabled =
    refreshDevices.disabled =
    changePassword.disabled =
      !signedIn;
  if (!tokens) {
    accessLeft.textContent = refreshLeft.textContent = generationLabel.textContent = '–';
    accessBar.value = refreshBar.value = 0;
    lastAccessToken = null;
    return;
  }
  if (tokens.accessToken !== lastAccessToken) {
    // A new pair, whichever tab fetched it. The tokens themselves are never shown.
    lastAccessToken = tokens.accessToken;
    generation += 1;
  }
  const now = Date.now();
  accessLeft.textContent = formatLeft(tokens.accessExpiresAt - now);
  refreshLeft.textContent = formatLeft(tokens.refreshExpiresAt - now);
  accessBar.value = Math.max(
    0,
    (tokens.accessExpiresAt - now) / (tokens.accessExpiresAt - tokens.obtainedAt),
  );
  refreshBar.value = Math.max(
    0,
    (tokens.refreshExpiresAt - now) / (tokens.refreshExpiresAt - tokens.obtainedAt),
  );
  generationLabel.textContent = `#${generation} (obtained ${clockTime(tokens.obtainedAt)})`;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'login';
  showAccountMessage(action === 'register' ? 'Signing up…' : 'Logging in…');
  try {
    if (action === 'register') {
      const user = await client.register(username.value, password.value);
      showAccountMessage(`Signed up as ${user.username}. Now log in.`);
      logEvent(`registered ${user.username}`);
    } else {
      await client.login(username.value, password.value);
      showAccountMessage(`Logged in as ${username.value}.`);
      password.value = '';
    }
  } catch (error) {
    showAccountMessage(describe(error), true);
  }
  await render();
});

callMe.addEventListener('click', async () => {
  try {
    const response = await client.fetch('/me');
    const body = await response.json();
    meOutput.textContent = `${response.status} at ${clockTime(Date.now())}\n${JSON.stringify(body, null, 2)}`;
  } catch (error) {
    meOutput.textContent = describe(error);
  }
});

logout.addEventListener('click', async () => {
  try {
    await client.logout();
  } catch (error) {
    logEvent(`logout: ${describe(error)}`);
  }
  await render();
});

logoutAll.addEventListener('click', async () => {
  try {
    await client.logoutAll();
  } catch (error) {
    logEvent(`log out everywhere: ${describe(error)}`);
  }
  await render();
});

refreshDevices.addEventListener('click', () => void renderDevices());

passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  passwordMessage.classList.remove('error');
  passwordMessage.textContent = 'Changing…';
  try {
    await client.changePassword(currentPassword.value, newPassword.value);
    passwordMessage.textContent = 'Password changed; every other device is signed out.';
    currentPassword.value = newPassword.value = '';
    logEvent('password changed');
  } catch (error) {
    passwordMessage.textContent = describe(error);
    passwordMessage.classList.add('error');
  }
  await renderDevices();
});

setInterval(() => void render(), 250);
void render();
