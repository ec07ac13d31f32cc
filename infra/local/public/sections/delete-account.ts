// "Delete account": asks for the password again, then deletes the account and every session of it.
import { clearPasswords, element, logEvent, messageFor, type PageState, showMessage } from '../page.ts';

export function mountDeleteAccount(page: PageState): void {
  const form = element<HTMLFormElement>('delete-form');
  const password = element<HTMLInputElement>('delete-password');
  const message = element('delete-message');
  const signedOutMessage = element('signed-out-message');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Deleting…');
    try {
      await page.client.deleteAccount(password.value);
      logEvent('account deleted');
      signedOutMessage.textContent = 'Your account and all its sessions have been deleted.';
    } catch (error) {
      showMessage(message, messageFor(error, 'delete-account'), true);
    }
    clearPasswords(form);
    await page.update();
  });
  page.onSignedOut(() => {
    clearPasswords(form);
    showMessage(message, '');
  });
}
