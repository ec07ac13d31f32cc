import type { NoticeKind } from '../mail/messages.ts';
import type { Services } from '../services.ts';
import type { UserAccount } from '../store/users.ts';

/** The notices of a change to an account's second factors (API.md "Mail"). */
export type SecondFactorNotice = Extract<
  NoticeKind,
  'totp_enabled' | 'totp_disabled' | 'recovery_codes_regenerated' | 'passkey_added' | 'passkey_removed'
>;

/**
 * Queues the notice that a second factor or passkey of the account was added or removed (or its recovery codes
 * replaced), to the account's address when it is verified: an address nobody has confirmed may be someone
 * else's, and the notice names the account. `account` is the account as read (`undefined`: the name's item is
 * read here, one GetItem). Nothing is queued for an account without a verified address. The mail leaves out of
 * band (`services.outbox`); a queue that cannot take it is a 503 after the change was made, as for every notice.
 */
export async function noticeSecondFactorChange(
  services: Services,
  who: { userId: string; username: string },
  notice: SecondFactorNotice,
  account?: UserAccount,
): Promise<void> {
  const current = account ?? (await services.users.getAccount(who.username));
  if (current?.userId !== who.userId || !current.emailVerified || current.email === undefined) return;
  await services.outbox.enqueue({ kind: 'notice', notice, to: current.email, username: current.username });
}
