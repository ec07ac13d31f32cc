import { nowSeconds } from '../config.ts';
import type { Services } from '../services.ts';
import { CLAIM_GRACE, type EmailClaim } from '../store/emails.ts';

/**
 * Claims an address for an account (registration, address change), so that an address belongs to at most one
 * account without a transaction. Returns `false` when another account holds it: its claim is confirmed by its
 * account item (which names the address) or is younger than {@link CLAIM_GRACE} (a registration or change under
 * way). A claim that is neither is stale (a registration that lost its name, a change or deletion that stopped
 * half-way) and is taken over with a write conditional on it being unchanged: of two accounts taking over one
 * stale claim, exactly one gets it.
 *
 * Requests: one conditional PutItem; when it fails, a GetItem of the claim and of its holder's account item,
 * and for a stale claim one more conditional PutItem.
 */
export async function claimEmail(services: Services, claim: EmailClaim): Promise<boolean> {
  const { emails, users } = services;
  const first = await emails.claim(claim);
  if (first.claimed) return true;
  const holder = first.holder;
  // Released between the two requests: claim it again, once (a second loss is a 409 like any other).
  if (!holder) return (await emails.claim(claim)).claimed;
  if (holder.claimedAt > nowSeconds() - CLAIM_GRACE) return false;
  const account = await users.getAccount(holder.username);
  if (account && account.userId === holder.userId && account.email === holder.email) return false;
  return emails.takeOver(holder, claim);
}
