// "Account": log in, or create an account (and be signed in with it); when signed in, who you are.
import {
  announceUsername,
  clearPasswords,
  element,
  logEvent,
  messageFor,
  type PageState,
  showMessage,
} from '../page.ts';
import { MFA_REQUIRED_EVENT } from './second-factor.ts';

export function mountAccount(page: PageState): void {
  const { client } = page;
  const loginForm = element<HTMLFormElement>('login-form');
  const username = element<HTMLInputElement>('username');
  const password = element<HTMLInputElement>('password');
  const registerForm = element<HTMLFormElement>('register-form');
  const registerUsername = element<HTMLInputElement>('register-username');
  const registerPassword = element<HTMLInputElement>('register-password');
  const message = element('account-message');
  const signedInAs = element('signed-in-as');

  /** Who is signed in, from the protected example route (the tokens themselves are never shown). */
  async function showWhoAmI(): Promise<void> {
    try {
      const me = (await (await client.fetch('/me')).json()) as { username?: string };
      signedInAs.textContent = me.username ?? '';
      announceUsername(me.username ?? '');
    } catch {
      signedInAs.textContent = '';
    }
  }

  async function logIn(name: string, secret: string): Promise<void> {
    const result = await client.login(name, secret);
    clearPasswords();
    if (result.status === 'mfa_required') {
      // The password was right; the Second factor section asks for the code (see second-factor.ts).
      showMessage(message, 'Password accepted: one more step.');
      document.dispatchEvent(new CustomEvent(MFA_REQUIRED_EVENT, { detail: result.methods }));
      return;
    }
    showMessage(message, '');
    logEvent(`logged in as ${name}`);
    await page.update();
  }

  loginForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Logging in…');
    try {
      await logIn(username.value, password.value);
    } catch (error) {
      showMessage(message, messageFor(error, 'login'), true);
    }
  });

  registerForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    showMessage(message, 'Creating the account…');
    try {
      const user = await client.register(registerUsername.value, registerPassword.value);
      logEvent(`account ${user.username} created`);
      await logIn(registerUsername.value, registerPassword.value);
      registerForm.reset();
    } catch (error) {
      showMessage(message, messageFor(error, 'register'), true);
    }
  });

  page.onSignedIn(() => void showWhoAmI());
  page.onSignedOut(() => {
    signedInAs.textContent = '';
    clearPasswords();
  });
}
