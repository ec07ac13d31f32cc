import { totpCodeAt, totpStepAt } from '../../lib/mfa/totp.ts';

/** The TOTP code of `secret` (base32) for the step `Date.now()` is in (the fake clock's, where one is used). */
export const codeNow = (secret: string): string => totpCodeAt(secret, totpStepAt(Date.now()));

/** A six-digit code that is not `code`. */
export const otherThan = (code: string): string => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

/** Moves `clock` to just past the start of the next 30 s TOTP step, so that a fresh code exists. */
export const nextStepOf = (clock: { advance(seconds: number): void }) => () =>
  clock.advance(30 - ((Date.now() / 1000) % 30) + 0.01);

/**
 * Turns TOTP on for the account a signed-in client holds, through the client's own `fetch` (enrolment with the
 * password, then confirmation with the current step's code): the secret, that step, and the recovery codes.
 */
export async function enrolTotpThrough(
  client: { fetch(path: string, init?: RequestInit): Promise<Response> },
  password: string,
): Promise<{ secret: string; step: number; recoveryCodes: string[] }> {
  const post = (path: string, body: unknown) =>
    client.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const { secret } = (await (await post('/auth/mfa/totp', { password })).json()) as { secret: string };
  const step = totpStepAt(Date.now());
  const confirmed = await post('/auth/mfa/totp/confirm', { code: totpCodeAt(secret, step) });
  if (confirmed.status !== 200) throw new Error(`TOTP confirmation answered ${confirmed.status}`);
  const { recoveryCodes } = (await confirmed.json()) as { recoveryCodes: string[] };
  return { secret, step, recoveryCodes };
}
