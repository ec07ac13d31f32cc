// The demo page's Passkeys card: add a passkey (the password again, then the browser's ceremony), list, rename
// and delete them, and sign in with one, no username or password. Driven by the client SDK, whose passkey
// methods run the ceremonies of @simplewebauthn/browser.
import { type AuthClient, AuthError, type PasskeyInfo } from '@lambda-token-auth/client';

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
};

function describe(error: unknown): string {
  if (error instanceof AuthError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Wires the card to `client`; `logEvent` adds a line to the page's event list. */
export function setUpPasskeys(client: AuthClient, logEvent: (text: string) => void): void {
  const signIn = element<HTMLButtonElement>('passkey-login');
  const addForm = element<HTMLFormElement>('passkey-form');
  const password = element<HTMLInputElement>('passkey-password');
  const name = element<HTMLInputElement>('passkey-name');
  const add = element<HTMLButtonElement>('add-passkey');
  const list = element<HTMLUListElement>('passkeys');
  const message = element('passkeys-message');

  const say = (text: string, isError = false) => {
    message.textContent = text;
    message.classList.toggle('error', isError);
  };

  const item = (passkey: PasskeyInfo): HTMLLIElement => {
    const row = document.createElement('li');
    row.dataset.passkeyId = passkey.passkeyId;
    const label = document.createElement('span');
    label.className = 'passkey-name';
    label.textContent = passkey.name;
    const when = document.createElement('span');
    when.className = 'muted';
    when.textContent = ` added ${new Date(passkey.createdAt).toLocaleString()} · ${
      passkey.lastUsedAt ? `last used ${new Date(passkey.lastUsedAt).toLocaleString()}` : 'not used yet'
    }`;
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'secondary rename-passkey';
    rename.textContent = 'Rename';
    rename.addEventListener('click', async () => {
      const newName = prompt('A name for this passkey', passkey.name);
      if (!newName) return;
      try {
        await client.renamePasskey(passkey.passkeyId, newName);
        logEvent(`renamed a passkey to ${newName}`);
      } catch (error) {
        say(describe(error), true);
      }
      await render();
    });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'danger delete-passkey';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await client.deletePasskey(passkey.passkeyId);
        logEvent(`deleted the passkey ${passkey.name}`);
      } catch (error) {
        say(describe(error), true);
      }
      await render();
    });
    row.append(label, when, ' ', rename, ' ', remove);
    return row;
  };

  /** Redraws the list from the server, and which buttons apply (signed in or not). */
  const render = async () => {
    const signedIn = (await client.tokens()) !== null;
    signIn.disabled = signedIn;
    add.disabled = !signedIn;
    if (!signedIn) {
      list.replaceChildren();
      return;
    }
    try {
      const passkeys = await client.listPasskeys();
      list.replaceChildren(...passkeys.map(item));
    } catch (error) {
      say(describe(error), true);
    }
  };

  signIn.addEventListener('click', async () => {
    say('Waiting for your passkey…');
    try {
      await client.loginWithPasskey();
      say('Signed in with a passkey.');
      logEvent('signed in with a passkey');
    } catch (error) {
      say(describe(error), true);
    }
    await render();
  });

  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    say('Checking your password, then waiting for your authenticator…');
    try {
      const added = await client.addPasskey(password.value, name.value.trim() || undefined);
      password.value = name.value = '';
      say(`Added the passkey ${added.name}.`);
      logEvent(`added the passkey ${added.name}`);
    } catch (error) {
      say(describe(error), true);
    }
    await render();
  });

  client.on('signedIn', () => void render());
  client.on('signedOut', () => void render());
  void render();
}
