import { randomUUID } from 'node:crypto';
import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { Services } from '../services.ts';
import { linkUsable } from '../store/links.ts';

/**
 * Redeems a verification link (`POST /auth/email/verify`): the account's address is verified if it is still the
 * address the link was sent to. The link is marked used in one conditional write, so of concurrent redemptions
 * exactly one verifies.
 *
 * Requests: GetItem of the link and of the account item; the redemption (UpdateItem) and the verification
 * (UpdateItem). Errors: `400 invalid_link` (unknown, used, expired, or sent to an address the account has left).
 */
export async function verifyEmail(services: Services, token: string): Promise<void> {
  const { links, users } = services;
  const now = nowSeconds();
  const link = await links.get(token);
  if (!linkUsable(link, now) || link.purpose !== 'verify') throw new ApiError('invalid_link');
  const account = await users.getAccount(link.username);
  if (!account || account.userId !== link.userId || account.email !== link.email)
    throw new ApiError('invalid_link');
  if (!(await links.redeem(token, now, randomUUID()))) throw new ApiError('invalid_link');
  // The address changed between the read and here: the link verified nothing.
  if (!(await users.markEmailVerified(link.username, link.userId, link.email)))
    throw new ApiError('invalid_link');
}
