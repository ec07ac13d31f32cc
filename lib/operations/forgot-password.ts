import { nowSeconds } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { ClientInfo } from '../http/function.ts';
import { normaliseEmail } from '../mail/address.ts';
import type { Services } from '../services.ts';
import { mailLimits } from '../store/limits.ts';

/**
 * Asks for a reset mail (`POST /auth/password/forgot`). The answer is the same, and the work on the request's
 * path the same, whatever the address: whether it belongs to an account, is verified, or was asked for a moment
 * ago (OWASP ASVS 6.3.8 / 2.5.2 on account enumeration). Only the client address's limit is counted here
 * (`forgotRequestsPerAddress`: one client cannot mail-bomb many accounts); the lookup, the per-account limit
 * and the mail happen out of band, in the mailer.
 *
 * Requests: one to three for the client address's slot, and the queue's SendMessage (none past the limit).
 * Errors: `400 invalid_request` for a malformed address.
 */
export async function forgotPassword(
  services: Services,
  rawEmail: string,
  client: ClientInfo,
): Promise<void> {
  const email = normaliseEmail(rawEmail);
  if (!email) {
    throw new ApiError('invalid_request', {
      message: 'The e-mail address must have one "@", at most 254 characters and no spaces.',
    });
  }
  const slot = await services.limits.take(
    `forgot#${client.ipAddress}`,
    mailLimits.forgotRequestsPerAddress,
    nowSeconds(),
  );
  if (slot.taken) await services.outbox.enqueue({ kind: 'forgot', email });
}
