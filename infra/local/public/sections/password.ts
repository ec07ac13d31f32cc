// "Change password": the current one and a new one; every other device is signed out, this one stays.
import {
  clearPasswords,
  element,
  logEvent,
  messageFor,
  onUsername,
  type PageState,
  showMessage,
} from '../page.ts';

export function mountChangePassword(page: PageState): void {
  const form = element<HTMLFormElement>('password-form');
  const current = element<HTMLInputElement>('current-password');
  const next = element<HTMLInputElement>('new-password');
  const accountName = element<HTMLInputElement>('password-username');
  const message = element('password-message');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Changing…');
    try {
      await page.client.changePassword(current.value, next.value);
      showMessage(message, 'Password changed; every other device is signed out.');
      logEvent('password changed');
      document.dispatchEvent(new Event('devices-changed'));
    } catch (error) {
      showMessage(message, messageFor(error, 'change-password'), true);
    }
    clearPasswords(form);
  });
  // Password managers file the new password under the account named in the form.
  onUsername((username) => {
    accountName.value = username;
  });
  page.onSignedOut(() => {
    accountName.value = '';
    clearPasswords(form);
    showMessage(message, '');
  });
}
