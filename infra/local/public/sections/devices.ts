// "Your devices": the account's live sessions, newest first, named from their user agents; this one marked,
// the others revocable at once.
import type { SessionInfo } from '@lambda-token-auth/client';
import { parse } from 'bowser';
import { element, logEvent, messageFor, type PageState, showMessage, timeElement } from '../page.ts';

/**
 * A person's name for the device a session was started from, read from its user agent by bowser:
 * "Chrome 131 on macOS 10.15", "Safari on iOS 18.1 (mobile)". `undefined` when the user agent names no
 * browser bowser knows (an API client, a script).
 */
export function deviceName(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  const { browser, os, platform } = parse(userAgent);
  if (!browser.name) return undefined;
  const major = browser.version?.split('.')[0];
  const system = os.name
    ? ` on ${os.name}${os.versionName ? ` ${os.versionName}` : os.version ? ` ${os.version}` : ''}`
    : '';
  const kind = platform.type && platform.type !== 'desktop' ? ` (${platform.type})` : '';
  return `${browser.name}${major ? ` ${major}` : ''}${system}${kind}`;
}

export function mountDevices(page: PageState): void {
  const { client } = page;
  const list = element<HTMLUListElement>('devices');
  const reload = element<HTMLButtonElement>('refresh-devices');
  const message = element('devices-message');

  /** One device: what it is, where from, since when; this one marked, the others with a revoke button. */
  function deviceItem(session: SessionInfo): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset.sessionId = session.sessionId;
    const name = deviceName(session.userAgent);
    const what = document.createElement('span');
    what.className = 'device';
    what.textContent = name ?? (session.userAgent ? `Other client (${session.userAgent})` : 'Unknown device');
    if (session.userAgent) what.title = session.userAgent;
    const details = document.createElement('span');
    details.className = 'details muted';
    details.append(`${session.ipAddress || 'unknown address'} · signed in `, timeElement(session.createdAt));
    if (session.lastRefreshedAt) details.append(' · last active ', timeElement(session.lastRefreshedAt));
    item.append(what, details);
    if (session.current) {
      const badge = document.createElement('span');
      badge.className = 'badge signed-in this-device';
      badge.textContent = 'This device';
      what.append(' ', badge);
    } else {
      const revoke = document.createElement('button');
      revoke.type = 'button';
      revoke.className = 'danger revoke';
      revoke.textContent = 'Revoke';
      revoke.setAttribute('aria-label', `Revoke ${what.textContent}, signed in ${details.textContent}`);
      revoke.addEventListener('click', async () => {
        revoke.disabled = true;
        try {
          await client.revokeSession(session.sessionId);
          logEvent(`revoked ${what.textContent}`);
        } catch (error) {
          showMessage(message, messageFor(error), true);
        }
        await render();
      });
      item.append(revoke);
    }
    return item;
  }

  /** Redraws the list from the server (it never shows a token). */
  async function render(): Promise<void> {
    if (!(await client.tokens())) return clear();
    try {
      const sessions = await client.listSessions();
      list.replaceChildren(...sessions.map(deviceItem));
      showMessage(message, `${sessions.length} device${sessions.length === 1 ? '' : 's'}`);
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  }

  function clear(): void {
    list.replaceChildren();
    showMessage(message, '');
  }

  reload.addEventListener('click', () => void render());
  page.onSignedIn(() => void render());
  page.onSignedOut(clear);
  // Another change of this account's devices in this tab (a password change ends the other sessions).
  document.addEventListener('devices-changed', () => void render());
}
