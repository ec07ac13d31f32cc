// "Second factor": TOTP enrolment with a QR code (drawn by the `qrcode` library), recovery codes shown once,
// turning it off; the login's second step (in the Account card, after a password answered mfa_required: a code,
// or a passkey through the browser's ceremony); and
// step-up on /me/sensitive (in the GET /me card), which the client reports as `stepUpRequired`.
import type { SecondFactorMethod } from '@lambda-token-auth/client';
import QRCode from 'qrcode';
import {
  clearPasswords,
  element,
  formatTime,
  logEvent,
  messageFor,
  type PageState,
  showMessage,
} from '../page.ts';

/** Sent by the Account card when a login's password was right and a second factor is due. */
export const MFA_REQUIRED_EVENT = 'demo-mfa-required';

const methodWords: Record<SecondFactorMethod, string> = {
  totp: 'the code your authenticator app shows',
  recovery_code: 'a recovery code',
  passkey: 'a passkey',
};

export function mountSecondFactor(page: PageState): void {
  const { client } = page;
  const password = element<HTMLInputElement>('mfa-password');
  const enrol = element<HTMLButtonElement>('mfa-enrol');
  const disable = element<HTMLButtonElement>('mfa-disable');
  const enrolment = element('mfa-enrolment');
  const qr = element<HTMLImageElement>('mfa-qr');
  const secret = element('mfa-secret');
  const confirmForm = element<HTMLFormElement>('mfa-confirm-form');
  const confirmCode = element<HTMLInputElement>('mfa-confirm-code');
  const recovery = element('mfa-recovery');
  const recoveryList = element<HTMLOListElement>('mfa-recovery-codes');
  const message = element('mfa-message');
  const loginStep = element<HTMLFormElement>('mfa-login-form');
  const loginCode = element<HTMLInputElement>('mfa-code');
  const loginMethods = element('mfa-methods');
  const loginMessage = element('mfa-login-message');
  const codeEntry = element('mfa-code-entry');
  const codeSubmit = element<HTMLButtonElement>('mfa-submit');
  const usePasskey = element<HTMLButtonElement>('mfa-passkey');
  const callSensitive = element<HTMLButtonElement>('call-sensitive');
  const stepUp = element('step-up-message');
  const meOutput = element('me-output');

  const json = (method: string, path: string, body: unknown) =>
    client.fetch(path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const failure = async (response: Response) => {
    const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    return body.message ?? `HTTP ${response.status}`;
  };
  const forgetEnrolment = () => {
    enrolment.hidden = true;
    secret.textContent = '';
    qr.removeAttribute('src');
    confirmCode.value = '';
  };

  enrol.addEventListener('click', async () => {
    recovery.hidden = true;
    try {
      const response = await json('POST', '/auth/mfa/totp', { password: password.value });
      clearPasswords(password.parentElement ?? document);
      if (!response.ok) return showMessage(message, await failure(response), true);
      const started = (await response.json()) as { secret: string; otpauthUri: string };
      qr.src = await QRCode.toDataURL(started.otpauthUri, { margin: 1, width: 200 });
      secret.textContent = started.secret;
      enrolment.hidden = false;
      showMessage(message, 'Scan the code with your authenticator app, then type the code it shows.');
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  });

  confirmForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const response = await json('POST', '/auth/mfa/totp/confirm', { code: confirmCode.value });
      if (!response.ok) return showMessage(message, await failure(response), true);
      const { recoveryCodes } = (await response.json()) as { recoveryCodes: string[] };
      // Shown this once: the service keeps only their hashes.
      recoveryList.replaceChildren(
        ...recoveryCodes.map((code) => {
          const item = document.createElement('li');
          item.textContent = code;
          return item;
        }),
      );
      recovery.hidden = false;
      forgetEnrolment();
      showMessage(
        message,
        'Two-step sign-in is on. Keep the recovery codes somewhere safe: they are shown only now.',
      );
      logEvent('authenticator app turned on');
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  });

  disable.addEventListener('click', async () => {
    try {
      const response = await json('DELETE', '/auth/mfa/totp', { password: password.value });
      clearPasswords(password.parentElement ?? document);
      if (!response.ok) return showMessage(message, await failure(response), true);
      forgetEnrolment();
      recovery.hidden = true;
      showMessage(message, 'Two-step sign-in is off.');
      logEvent('authenticator app turned off');
    } catch (error) {
      showMessage(message, messageFor(error), true);
    }
  });

  document.addEventListener(MFA_REQUIRED_EVENT, (event) => {
    const methods = (event as CustomEvent<SecondFactorMethod[]>).detail;
    loginMethods.textContent = methods.map((method) => methodWords[method]).join(' or ');
    showMessage(loginMessage, '');
    // A code field only where a code is enrolled; the passkey button only where a passkey is.
    const takesCode = methods.some((method) => method !== 'passkey');
    codeEntry.hidden = !takesCode;
    codeSubmit.hidden = !takesCode;
    loginCode.required = takesCode;
    usePasskey.hidden = !methods.includes('passkey');
    loginStep.hidden = false;
    (takesCode ? loginCode : usePasskey).focus();
  });

  usePasskey.addEventListener('click', async () => {
    showMessage(loginMessage, '');
    try {
      await client.completeMfaWithPasskey();
      loginStep.hidden = true;
      logEvent('logged in with a passkey as the second factor');
    } catch (error) {
      showMessage(loginMessage, messageFor(error, 'passkey-login'), true);
      if (client.pendingSecondFactors.length === 0) loginStep.hidden = true;
    }
    await page.update();
  });

  loginStep.addEventListener('submit', async (event) => {
    event.preventDefault();
    const typed = loginCode.value.trim();
    // Six digits are an app's code; anything longer is a recovery code.
    const proof = /^\d{6}$/.test(typed.replace(/\s/g, '')) ? { code: typed } : { recoveryCode: typed };
    try {
      await client.completeMfa(proof);
      loginStep.hidden = true;
      loginCode.value = '';
      logEvent('logged in with a second factor');
    } catch (error) {
      showMessage(loginMessage, messageFor(error), true);
      if (client.pendingSecondFactors.length === 0) loginStep.hidden = true;
    }
    await page.update();
  });

  client.on('stepUpRequired', ({ path, reason, maxAge }) => {
    const within = maxAge === undefined ? '' : ` (within ${maxAge} s)`;
    showMessage(stepUp, `Step-up required for ${path}: ${reason}${within}.`, true);
    logEvent(`step-up required: ${path}`);
  });

  callSensitive.addEventListener('click', async () => {
    showMessage(stepUp, '');
    try {
      const response = await client.fetch('/me/sensitive');
      const body = await response.json();
      meOutput.textContent = `${response.status} from /me/sensitive at ${formatTime(Date.now())}\n${JSON.stringify(body, null, 2)}`;
    } catch (error) {
      meOutput.textContent = messageFor(error);
    }
  });

  page.onSignedIn(() => {
    loginStep.hidden = true;
  });
  page.onSignedOut(() => {
    forgetEnrolment();
    recovery.hidden = true;
    recoveryList.replaceChildren();
    showMessage(message, '');
    showMessage(stepUp, '');
  });
}
