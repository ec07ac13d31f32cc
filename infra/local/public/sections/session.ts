// "Session": the two tokens' remaining lifetimes, redrawn four times a second, the automatic refreshes, and
// logging out (this device, or every device).
import type { SignOutReason } from '@lambda-token-auth/client';
import { element, formatTime, logEvent, messageFor, type PageState, showMessage } from '../page.ts';

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

/** A duration left, as a person reads it: "8.4 s left", "9 min 12 s left", "23 h 59 min left". */
function formatLeft(ms: number): string {
  if (ms <= 0) return 'expired';
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s left`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s left`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min left`;
}

export function mountSession(page: PageState): void {
  const { client } = page;
  const status = element('status');
  const accessLeft = element('access-left');
  const accessBar = element<HTMLProgressElement>('access-bar');
  const refreshLeft = element('refresh-left');
  const refreshBar = element<HTMLProgressElement>('refresh-bar');
  const generationLabel = element('generation');
  const refreshCount = element('refresh-count');
  const lastRefresh = element('last-refresh');
  const logout = element<HTMLButtonElement>('logout');
  const logoutAll = element<HTMLButtonElement>('logout-all');
  const message = element('session-message');
  const signedOutMessage = element('signed-out-message');

  let refreshes = 0;
  let generation = 0;
  let lastAccessToken: string | null = null;

  client.on('signedIn', () => {
    signedOutMessage.textContent = '';
  });
  client.on('refreshed', () => {
    refreshes += 1;
    refreshCount.textContent = String(refreshes);
    lastRefresh.textContent = `(last at ${formatTime(Date.now())})`;
    logEvent('tokens refreshed automatically');
  });
  client.on('signedOut', ({ reason }) => {
    logEvent(signOutWords[reason]);
    // Why the session ended, where the login form is: the next thing the reader sees.
    signedOutMessage.textContent = reason === 'logged_out' ? 'You have logged out.' : signOutWords[reason];
  });

  page.onSignedOut(() => {
    refreshes = generation = 0;
    lastAccessToken = null;
    refreshCount.textContent = '0';
    lastRefresh.textContent = '';
    showMessage(message, '');
  });

  /** Redraws the card from the stored tokens (another tab's refresh included). */
  async function render(): Promise<void> {
    const tokens = await client.tokens();
    status.textContent = tokens ? 'Signed in' : 'Signed out';
    status.className = `badge ${tokens ? 'signed-in' : 'signed-out'}`;
    if (!tokens) {
      accessLeft.textContent = refreshLeft.textContent = generationLabel.textContent = '–';
      accessBar.value = refreshBar.value = 0;
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
    generationLabel.textContent = `#${generation} (obtained ${formatTime(tokens.obtainedAt)})`;
  }

  const end = (action: () => Promise<void>) => async () => {
    showMessage(message, '');
    try {
      await action();
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
    await page.update();
  };
  logout.addEventListener(
    'click',
    end(() => client.logout()),
  );
  logoutAll.addEventListener(
    'click',
    end(() => client.logoutAll()),
  );

  page.onTick(render);
}
