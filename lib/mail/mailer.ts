import { nowSeconds } from '../config.ts';
import { countMetric, metricNames } from '../observability/metrics.ts';
import { currentPassword } from '../operations/current-password.ts';
import type { Services } from '../services.ts';
import { mailLimits } from '../store/limits.ts';
import { passwordFingerprint } from '../store/links.ts';
import {
  linkUrl,
  type MailRequest,
  noticeMail,
  type OutgoingMail,
  resetMail,
  verificationMail,
} from './messages.ts';

/** A mail to send, and how to take back what making it wrote, should the transport fail. */
interface PreparedMail {
  mail: OutgoingMail;
  undo(): Promise<void>;
}

const nothingToUndo = async () => {};

/**
 * Delivers one queued mail request: decides whether there is a mail to send (looking the address up: the
 * request path never does), makes its link, and hands it to the transport. Throws when the transport fails,
 * after taking back the link and the limit slot that mail used, so that a retry of the request sends exactly one
 * mail and costs one slot. A request with nothing to send (an address no account holds, a limit reached, an
 * address changed since) resolves without a mail.
 */
export async function deliverMailRequest(services: Services, request: MailRequest): Promise<void> {
  const prepared = await prepareMail(services, request);
  if (!prepared) return;
  try {
    await services.mail.transport.send(prepared.mail);
  } catch (error) {
    countMetric(metricNames.mailFailure);
    await prepared.undo();
    throw error;
  }
  countMetric(metricNames.mailSent);
}

async function prepareMail(services: Services, request: MailRequest): Promise<PreparedMail | undefined> {
  switch (request.kind) {
    case 'notice':
      return { mail: noticeMail(request.to, request.username, request.notice), undo: nothingToUndo };
    case 'verify':
      return prepareVerification(services, request);
    case 'forgot':
      return prepareReset(services, request.email);
  }
}

async function prepareVerification(
  services: Services,
  request: Extract<MailRequest, { kind: 'verify' }>,
): Promise<PreparedMail | undefined> {
  const { config, users, links } = services;
  const account = await users.getAccount(request.username);
  // Changed since it was asked for (another address, verified already, the account gone): nothing to send.
  if (
    !account ||
    account.userId !== request.userId ||
    account.email !== request.email ||
    account.emailVerified
  )
    return undefined;
  const expiresAt = nowSeconds() + config.emailVerificationTtl;
  const secret = await links.create({
    purpose: 'verify',
    userId: account.userId,
    username: account.username,
    email: request.email,
    expiresAt,
  });
  return {
    mail: verificationMail(
      request.email,
      account.username,
      linkUrl(config.emailVerifyUrl, secret),
      config.emailVerificationTtl,
    ),
    undo: () => links.delete(secret),
  };
}

async function prepareReset(services: Services, email: string): Promise<PreparedMail | undefined> {
  const { config, emails, users, links, limits } = services;
  const claim = await emails.getClaim(email);
  if (!claim) return undefined;
  const account = await users.getAccount(claim.username);
  // The account item is the truth about addresses (see EmailStore): a claim it does not confirm holds nothing.
  if (!account || account.userId !== claim.userId || account.email !== email) return undefined;
  const current = await currentPassword(services, account);
  if (current.deleted) return undefined;
  const scope = `reset#${account.userId}`;
  if (!(await limits.take(scope, mailLimits.resetMails, nowSeconds())).taken) return undefined;
  let secret: string;
  try {
    secret = await links.create({
      purpose: 'reset',
      userId: account.userId,
      username: account.username,
      email,
      expiresAt: nowSeconds() + config.passwordResetTtl,
      passwordFingerprint: passwordFingerprint(current.passwordHash),
    });
  } catch (error) {
    await limits.release(scope);
    throw error;
  }
  return {
    mail: resetMail(
      email,
      account.username,
      linkUrl(config.passwordResetUrl, secret),
      config.passwordResetTtl,
    ),
    undo: async () => {
      await links.delete(secret);
      await limits.release(scope);
    },
  };
}
