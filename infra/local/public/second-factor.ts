// The demo page's second factor: TOTP enrolment with a QR code (the `qrcode` library), recovery codes shown
// once, the second step of a login, and step-up on /me/sensitive. Wired by demo.ts; its own elements only.
import { type AuthClient, AuthError, type SecondFactorMethod } from '@lambda-token-auth/client';
import QRCode from 'qrcode';

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
};

const describe = (error: unknown): string =>
  error instanceof AuthError
    ? `${error.message} (${error.code})`
    : error instanceof Error
      ? error.message
      : String(error);

export interface SecondFactorPage {
  /** Shows the login's second step (after `login()` answered `mfa_required`). */
  askForSecondFactor(methods: SecondFactorMethod[]): void;
}

/**
 * Wires the "Second factor" card, the login's second step and the step-up call. `log` adds a line to the page's
 * event list; `render` redraws the session card.
 */
export function setUpSecondFactor(
  client: AuthClient,
  page: { log(text: string): void; render(): Promise<void>; showResult(text: string): void },
): SecondFactorPage {
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
  const callSensitive = element<HTMLButtonElement>('call-sensitive');
  const stepUp = element('step-up-message');

  const say = (target: HTMLElement, text: string, isError = false) => {
    target.textContent = text;
    target.classList.toggle('error', isError);
  };
  const json = (method: string, path: string, body: unknown) =>
    client.fetch(path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const failure = async (response: Response) => {
    const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
    return `${body.message ?? `HTTP ${response.status}`}${body.error ? ` (${body.error})` : ''}`;
  };

  enrol.addEventListener('click', async () => {
    recovery.hidden = true;
    try {
      const response = await json('POST', '/auth/mfa/totp', { password: password.value });
      if (!response.ok) return say(message, await failure(response), true);
      const started = (await response.json()) as { secret: string; otpauthUri: string };
      qr.src = await QRCode.toDataURL(started.otpauthUri, { margin: 1, width: 200 });
      secret.textContent = started.secret;
      enrolment.hidden = false;
      password.value = '';
      say(message, 'Scan the code with your authenticator app, then type the code it shows.');
    } catch (error) {
      say(message, describe(error), true);
    }
  });

  confirmForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const response = await json('POST', '/auth/mfa/totp/confirm', { code: confirmCode.value });
      if (!response.ok) return say(message, await failure(response), true);
      const { recoveryCodes } = (await response.json()) as { recoveryCodes: string[] };
      // Shown once: the service keeps only their hashes.
      recoveryList.replaceChildren(
        ...recoveryCodes.map((code) => {
          const item = document.createElement('li');
          item.textContent = code;
          return item;
        }),
      );
      recovery.hidden = false;
      enrolment.hidden = true;
      confirmCode.value = '';
      secret.textContent = '';
      qr.removeAttribute('src');
      say(
        message,
        'Two-step sign-in is on. Keep the recovery codes somewhere safe: they are shown only now.',
      );
      page.log('TOTP turned on');
    } catch (error) {
      say(message, describe(error), true);
    }
  });

  disable.addEventListener('click', async () => {
    try {
      const response = await json('DELETE', '/auth/mfa/totp', { password: password.value });
      if (!response.ok) return say(message, await failure(response), true);
      enrolment.hidden = recovery.hidden = true;
      password.value = '';
      say(message, 'Two-step sign-in is off.');
      page.log('TOTP turned off');
    } catch (error) {
      say(message, describe(error), true);
    }
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
      say(loginMessage, '');
      page.log('signed in with a second factor');
    } catch (error) {
      say(loginMessage, describe(error), true);
      if (error instanceof AuthError && error.code === 'invalid_token') loginStep.hidden = true;
    }
    await page.render();
  });

  client.on('stepUpRequired', ({ path, reason, maxAge }) => {
    say(
      stepUp,
      `Step-up required for ${path}: ${reason}${maxAge === undefined ? '' : ` (within ${maxAge} s)`}.`,
      true,
    );
    page.log(`step-up required: ${path}`);
  });

  callSensitive.addEventListener('click', async () => {
    say(stepUp, '');
    try {
      const response = await client.fetch('/me/sensitive');
      const body = await response.json();
      page.showResult(`${response.status} from /me/sensitive\n${JSON.stringify(body, null, 2)}`);
    } catch (error) {
      page.showResult(describe(error));
    }
  });

  return {
    askForSecondFactor(methods) {
      loginMethods.textContent = methods
        .map(
          (method) =>
            ({ totp: 'a code from your app', recovery_code: 'a recovery code', passkey: 'a passkey' })[
              method
            ],
        )
        .join(' or ');
      loginStep.hidden = false;
      loginCode.focus();
    },
  };
}
