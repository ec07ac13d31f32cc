// "Passkeys": sign in with one, no username or password (signed out); add one (the password again, then the
// browser's ceremony), rename and delete them (signed in). The client's passkey methods run the ceremonies of
// @simplewebauthn/browser (passed to it in demo.ts).
import type { PasskeyInfo } from '@lambda-token-auth/client';
import {
  clearPasswords,
  element,
  logEvent,
  messageFor,
  onUsername,
  type PageState,
  showMessage,
  timeElement,
} from '../page.ts';

export function mountPasskeys(page: PageState): void {
  const { client } = page;
  const signIn = element<HTMLButtonElement>('passkey-login');
  const form = element<HTMLFormElement>('passkey-form');
  const name = element<HTMLInputElement>('passkey-name');
  const accountName = element<HTMLInputElement>('passkey-username');
  const list = element<HTMLUListElement>('passkeys');
  const message = element('passkeys-message');

  /** One passkey: its name, when it was added and last used, and its buttons. */
  function passkeyItem(passkey: PasskeyInfo): HTMLLIElement {
    const item = document.createElement('li');
    item.dataset.passkeyId = passkey.passkeyId;
    const label = document.createElement('span');
    label.className = 'passkey-name';
    label.textContent = passkey.name;
    const details = document.createElement('span');
    details.className = 'details muted';
    details.append(' added ', timeElement(passkey.createdAt));
    if (passkey.lastUsedAt) details.append(' · last used ', timeElement(passkey.lastUsedAt));
    else details.append(' · not used yet');
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'secondary rename-passkey';
    rename.textContent = 'Rename';
    rename.setAttribute('aria-label', `Rename the passkey ${passkey.name}`);
    rename.addEventListener('click', async () => {
      const newName = prompt('A name for this passkey', passkey.name)?.trim();
      if (!newName) return;
      try {
        await client.renamePasskey(passkey.passkeyId, newName);
        logEvent(`renamed a passkey to ${newName}`);
      } catch (error) {
        showMessage(message, messageFor(error), true);
      }
      await render();
    });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'danger delete-passkey';
    remove.textContent = 'Delete';
    remove.setAttribute('aria-label', `Delete the passkey ${passkey.name}`);
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await client.deletePasskey(passkey.passkeyId);
        showMessage(message, `Deleted the passkey ${passkey.name}.`);
        logEvent(`deleted the passkey ${passkey.name}`);
      } catch (error) {
        showMessage(message, messageFor(error), true);
      }
      await render();
    });
    item.append(label, details, rename, remove);
    return item;
  }

  /** Redraws the list from the server (never a key or a counter: the service does not hand them out). */
  async function render(): Promise<void> {
    if (!(await client.tokens())) return void list.replaceChildren();
    try {
      list.replaceChildren(...(await client.listPasskeys()).map(passkeyItem));
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  }

  signIn.addEventListener('click', async () => {
    showMessage(message, 'Waiting for your passkey…');
    try {
      await client.loginWithPasskey();
      showMessage(message, 'Signed in with a passkey.');
      logEvent('signed in with a passkey');
    } catch (error) {
      showMessage(message, messageFor(error, 'passkey-login'), true);
    }
    await page.update();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Checking your password, then waiting for your authenticator…');
    const password = element<HTMLInputElement>('passkey-password').value;
    clearPasswords(form);
    try {
      const added = await client.addPasskey(password, name.value.trim() || undefined);
      name.value = '';
      showMessage(message, `Added the passkey ${added.name}.`);
      logEvent(`added the passkey ${added.name}`);
    } catch (error) {
      showMessage(message, messageFor(error, 'add-passkey'), true);
    }
    await render();
  });

  // Password managers file the password under the account named in the form.
  onUsername((username) => {
    accountName.value = username;
  });
  page.onSignedIn(() => void render());
  page.onSignedOut(() => {
    list.replaceChildren();
    accountName.value = name.value = '';
    clearPasswords(form);
  });
}
