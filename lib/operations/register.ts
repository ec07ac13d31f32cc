import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import { MAX_PASSWORD_LENGTH, passwordWeakness } from '../passwords/argon2.ts';
import type { Services } from '../services.ts';
import { normaliseUsername } from '../store/users.ts';
import type { Credentials } from './login.ts';

/** Registers an account: `{userId, username}` with the stored (normalised) username. */
export async function register(
  services: Services,
  credentials: Credentials,
): Promise<{ userId: string; username: string }> {
  const { username: rawUsername, password } = credentials;
  const username = normaliseUsername(rawUsername);
  if (!username) {
    throw new ApiError('invalid_request', {
      message:
        'The username must be 3-64 characters of a-z, 0-9, ".", "_", "@", "+", "-", starting with a letter or digit.',
    });
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new ApiError('invalid_request', {
      message: `The password must be at most ${MAX_PASSWORD_LENGTH} characters.`,
    });
  }
  const weakness = passwordWeakness(password, username);
  if (weakness) throw new ApiError('weak_password', { message: weakness });

  const userId = randomUUID();
  const created = await services.users.createUser({
    userId,
    username,
    passwordHash: await services.passwords.hash(password),
    now: nowSeconds(),
  });
  if (!created) throw new ApiError('username_taken');
  return { userId, username };
}
