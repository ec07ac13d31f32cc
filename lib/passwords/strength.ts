import { dictionary } from '@zxcvbn-ts/language-common';
import { MIN_PASSWORD_LENGTH } from './normalise.ts';

let common: ReadonlySet<string> | undefined;

/**
 * The most common passwords, lower-cased: zxcvbn-ts's maintained `passwords-common` dictionary (about 49,000,
 * ranked by frequency in breach corpora), of which only those long enough to pass the length rule are kept.
 * Built on first use and kept for the life of the process (a Lambda cold start); only register and password
 * change import this module, so no other function's bundle carries the dictionary.
 */
export function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    dictionary['passwords-common']
      .filter((password) => password.length >= MIN_PASSWORD_LENGTH)
      .map((password) => password.toLowerCase()),
  );
  return common;
}

/**
 * Why a password is too weak to accept, or `undefined` when it is acceptable (NIST SP 800-63B §5.1.1.2: at least
 * 8 characters, not a commonly used password, not context-specific such as the username). `password` must be the
 * normalised form (`normalisePassword`): the rule judges exactly what is hashed.
 */
export function passwordWeakness(password: string, username: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'That password is too common.';
  if (lower.includes(username)) return 'The password must not contain the username.';
  if (new Set(password).size < 3) return 'Use more than two different characters.';
  return undefined;
}
