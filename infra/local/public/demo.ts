// The demo page's script: the client driving a plain page, one module per card (sections/), mounted in page
// order. Bundled by the local server (demo-page.ts). A new card: its block in index.html, its module, a line here.
import { createAuthClient } from '@lambda-token-auth/client';
import * as webauthn from '@simplewebauthn/browser';
import { logEvent, messageFor, pageState } from './page.ts';
import { mountAccount } from './sections/account.ts';
import { mountDeleteAccount } from './sections/delete-account.ts';
import { mountDevices } from './sections/devices.ts';
import { mountMe } from './sections/me.ts';
import { mountPasskeys } from './sections/passkeys.ts';
import { mountChangePassword } from './sections/password.ts';
import { mountSecondFactor } from './sections/second-factor.ts';
import { mountSession } from './sections/session.ts';

// The cookie transport: the refresh token lives in an HttpOnly cookie that no script on this page can read,
// the access token in this tab's memory, shared with the page's other tabs; a reload or a new tab resumes the
// session with the cookie.
// The browser's WebAuthn ceremonies (@simplewebauthn/browser) for the client's passkey methods.
const client = createAuthClient({
  baseUrl: location.origin,
  transport: 'cookie',
  autoRefresh: true,
  passkeys: webauthn,
});
const page = pageState(client);

mountAccount(page);
mountSession(page);
mountMe(page);
mountDevices(page);
mountChangePassword(page);
mountPasskeys(page);
mountDeleteAccount(page);
mountSecondFactor(page);

// The sign-in state drives every card; tokens change in other tabs too, so it is polled, as the clocks are.
setInterval(() => void page.update(), 250);
void page.update();
client.resume().then(
  (resumed) => {
    if (resumed) logEvent('session resumed with the cookie');
    void page.update();
  },
  (error: unknown) => logEvent(`could not resume the session: ${messageFor(error)}`),
);
