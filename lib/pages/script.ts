// The script of the pages a mailed link opens (/verify-email, /reset-password), run in the browser: inlined into
// both pages by scripts/build-pages.ts. Opening a page sends nothing: only the form's submit POSTs the link's
// token, so a mail scanner that fetches the link cannot use it up. The API paths are relative, so the pages work
// where they are served: at the local server's root and under an API Gateway stage (`/prod/verify-email` posts to
// `/prod/auth/email/verify`).

import { linkToken as tokenOf } from '@lambda-token-auth/client';

const element = <T extends HTMLElement>(id: string): T | null => document.getElementById(id) as T | null;

/** The link's secret: the `token` of the fragment (never sent to a server), or of the query (the client's rule). */
const linkToken = (): string => tokenOf(location.href) ?? '';

function say(target: HTMLElement, text: string, kind: 'ok' | 'error'): void {
  target.textContent = text;
  target.classList.toggle('error', kind === 'error');
  target.classList.toggle('ok', kind === 'ok');
}

async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; error?: string; message?: string }> {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as { error?: string; message?: string }) : {};
    return { status: response.status, ...parsed };
  } catch {
    return { status: 0, message: 'The service could not be reached; try again.' };
  }
}

const verifyForm = element<HTMLFormElement>('verify-form');
const verifyMessage = element('verify-message');
if (verifyForm && verifyMessage) {
  const button = element<HTMLButtonElement>('verify');
  if (!linkToken()) say(verifyMessage, 'This page needs the link from your mail.', 'error');
  verifyForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (button) button.disabled = true;
    const answer = await post('auth/email/verify', { token: linkToken() });
    if (answer.status === 204) {
      say(verifyMessage, 'Your e-mail address is verified. You can close this page.', 'ok');
      return;
    }
    if (button) button.disabled = answer.error === 'invalid_link';
    say(verifyMessage, answer.message ?? 'That did not work; try again.', 'error');
  });
}

const resetForm = element<HTMLFormElement>('reset-form');
const resetMessage = element('reset-message');
if (resetForm && resetMessage) {
  const button = element<HTMLButtonElement>('reset');
  const newPassword = element<HTMLInputElement>('reset-new-password');
  const confirm = element<HTMLInputElement>('reset-confirm-password');
  const codeLabel = element('reset-code-label');
  const code = element<HTMLInputElement>('reset-code');
  if (!linkToken()) say(resetMessage, 'This page needs the link from your mail.', 'error');
  resetForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!newPassword || !confirm) return;
    if (newPassword.value !== confirm.value) {
      say(resetMessage, 'The two passwords differ.', 'error');
      return;
    }
    if (button) button.disabled = true;
    const second = code?.value.trim() ?? '';
    // Six digits are an authenticator code; anything else typed there is a recovery code.
    const proof = second === '' ? {} : /^\d{6}$/.test(second) ? { code: second } : { recoveryCode: second };
    const answer = await post('auth/password/reset', {
      token: linkToken(),
      newPassword: newPassword.value,
      ...proof,
    });
    if (answer.status === 204) {
      resetForm.hidden = true;
      say(
        resetMessage,
        'Your password is changed, and every device was signed out. Log in with the new one.',
        'ok',
      );
      return;
    }
    if (answer.error === 'mfa_required' || answer.error === 'invalid_mfa_code') {
      if (codeLabel) codeLabel.hidden = false;
      code?.focus();
    }
    if (button) button.disabled = answer.error === 'invalid_link';
    say(resetMessage, answer.message ?? 'That did not work; try again.', 'error');
  });
}
