// The demo page's script: the client driving a plain page, one module per card (sections/), mounted in page
// order. Bundled by the local server (demo-page.ts). A new card: its block in index.html, its module, a line here.
import { createAuthClient, localStorageStorage } from '@lambda-token-auth/client';
import { pageState } from './page.ts';
import { mountAccount } from './sections/account.ts';
import { mountDeleteAccount } from './sections/delete-account.ts';
import { mountDevices } from './sections/devices.ts';
import { mountMe } from './sections/me.ts';
import { mountChangePassword } from './sections/password.ts';
import { mountSession } from './sections/session.ts';

const client = createAuthClient({
  baseUrl: location.origin,
  storage: localStorageStorage('demo-auth-tokens'),
  autoRefresh: true,
});
const page = pageState(client);

mountAccount(page);
mountSession(page);
mountMe(page);
mountDevices(page);
mountChangePassword(page);
mountDeleteAccount(page);

// The sign-in state drives every card; tokens change in other tabs too, so it is polled, as the clocks are.
setInterval(() => void page.update(), 250);
void page.update();
