// "Forgot password?" (signed out) and "E-mail address" (signed in): account recovery by e-mail through the
// client. The mailed links open /reset-password and /verify-email (lib/pages), which POST their token.
import {
  clearPasswords,
  element,
  logEvent,
  messageFor,
  onUsername,
  type PageState,
  showMessage,
} from '../page.ts';

export function mountEmail(page: PageState): void {
  mountForgotPassword(page);
  mountAccountEmail(page);
}

/** Asks for a reset link. The answer says nothing about whether the address has an account, and nor does this. */
function mountForgotPassword(page: PageState): void {
  const form = element<HTMLFormElement>('forgot-form');
  const email = element<HTMLInputElement>('forgot-email');
  const message = element('forgot-message');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Sending…');
    try {
      await page.client.forgotPassword(email.value);
      showMessage(
        message,
        `If an account has ${email.value.trim()}, a link to choose a new password is on its way (it works for 30 minutes).`,
      );
      logEvent('password reset requested');
      form.reset();
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  });
  page.onSignedIn(() => showMessage(message, ''));
}

/** The signed-in account's address and whether it is verified; changing it, and the verification link again. */
function mountAccountEmail(page: PageState): void {
  const { client } = page;
  const address = element('email-address');
  const state = element('email-state');
  const resend = element<HTMLButtonElement>('email-resend');
  const form = element<HTMLFormElement>('email-form');
  const next = element<HTMLInputElement>('email-new');
  const password = element<HTMLInputElement>('email-password');
  const accountName = element<HTMLInputElement>('email-username');
  const message = element('email-message');

  function show(email: string | null, verified: boolean): void {
    address.textContent = email ?? 'none';
    state.textContent = email === null ? 'No address' : verified ? 'Verified' : 'Not verified';
    state.classList.toggle('signed-in', email !== null && verified);
    state.classList.toggle('signed-out', email === null || !verified);
    resend.hidden = email === null || verified;
  }

  async function load(): Promise<void> {
    try {
      const account = await client.getAccount();
      show(account.email, account.emailVerified);
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Changing…');
    try {
      await client.changeEmail(next.value, password.value);
      showMessage(message, `Address changed; a link to verify it went to ${next.value.trim()}.`);
      logEvent('e-mail address changed');
      next.value = '';
      await load();
    } catch (error) {
      showMessage(message, messageFor(error, 'change-email'), true);
    }
    clearPasswords(form);
  });

  resend.addEventListener('click', async () => {
    showMessage(message, 'Sending…');
    try {
      await client.resendVerification();
      showMessage(message, 'The verification link is on its way again.');
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  });

  // The address may be verified in another tab (the link's page): reload it when this tab comes back.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && page.signedIn()) void load();
  });
  onUsername((username) => {
    accountName.value = username;
  });
  page.onSignedIn(() => void load());
  page.onSignedOut(() => {
    show(null, false);
    address.textContent = '–';
    state.textContent = '–';
    next.value = '';
    accountName.value = '';
    clearPasswords(form);
    showMessage(message, '');
  });
}
