/**
 * What a mail request on the queue says: never a secret. Links are made by the mailer when it sends (so a link's
 * secret sits in no queue and no dead-letter queue), and addresses are looked up by the mailer (so the request
 * that asked for a reset mail does the same work whoever the address belongs to).
 */
export type MailRequest =
  /** Send a verification link to the account's address, if the account still has that address unverified. */
  | { kind: 'verify'; userId: string; username: string; email: string }
  /** Send a reset link to the account that holds `email`, if any (API.md `POST /auth/password/forgot`). */
  | { kind: 'forgot'; email: string }
  /** Tell the holder of `to` that something changed on the account. */
  | { kind: 'notice'; notice: NoticeKind; to: string; username: string };

/**
 * The notices (API.md "Mail"): password changed, password reset, address changed (sent to the old address), and
 * a second factor or passkey added or removed (or the recovery codes replaced).
 */
export type NoticeKind =
  | 'password_changed'
  | 'password_reset'
  | 'email_changed'
  | 'totp_enabled'
  | 'totp_disabled'
  | 'recovery_codes_regenerated'
  | 'passkey_added'
  | 'passkey_removed';

/** A mail ready for a transport. `link` is the one link it carries, if any (the local sink prints it). */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  link?: string;
}

/** Parses a queued request, refusing anything that is not one (a poison message is dropped, not retried). */
export function parseMailRequest(body: string): MailRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const str = (key: string) => typeof v?.[key] === 'string';
  if (v?.kind === 'verify' && str('userId') && str('username') && str('email')) return v as MailRequest;
  if (v?.kind === 'forgot' && str('email')) return v as MailRequest;
  if (
    v?.kind === 'notice' &&
    str('to') &&
    str('username') &&
    typeof v.notice === 'string' &&
    Object.hasOwn(noticeTexts, v.notice)
  )
    return v as MailRequest;
  return undefined;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const duration = (seconds: number) =>
  seconds % 3600 === 0 && seconds >= 7200
    ? `${seconds / 3600} hours`
    : seconds % 60 === 0
      ? `${seconds / 60} minutes`
      : `${seconds} seconds`;

/** Plain text and a matching HTML body from paragraphs; the link (if any) as its own paragraph. */
function body(paragraphs: string[], link?: { url: string; label: string }): { text: string; html: string } {
  const text = [...paragraphs, ...(link ? [link.url] : [])].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family: system-ui, sans-serif; line-height: 1.5">',
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(link ? [`<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`] : []),
    '</body></html>',
  ].join('\n');
  return { text, html };
}

/** The verification mail: a link to the verify page. */
export function verificationMail(
  to: string,
  username: string,
  link: string,
  ttlSeconds: number,
): OutgoingMail {
  return {
    to,
    subject: 'Verify your e-mail address',
    ...body(
      [
        `Hello ${username},`,
        `please confirm that ${to} is the address of your account by opening the link below. It works once and for ${duration(ttlSeconds)}.`,
        'If you did not ask for this, ignore this mail.',
      ],
      { url: link, label: 'Verify this address' },
    ),
    link,
  };
}

/** The reset mail: a link to the reset page. */
export function resetMail(to: string, username: string, link: string, ttlSeconds: number): OutgoingMail {
  return {
    to,
    subject: 'Reset your password',
    ...body(
      [
        `Hello ${username},`,
        `someone (we hope you) asked to reset the password of your account. Open the link below to choose a new one. It works once and for ${duration(ttlSeconds)}; a new password signs out every device.`,
        'If you did not ask for this, ignore this mail: your password stays as it is.',
      ],
      { url: link, label: 'Choose a new password' },
    ),
    link,
  };
}

const noticeTexts: Record<NoticeKind, { subject: string; paragraph: (username: string) => string }> = {
  password_changed: {
    subject: 'Your password was changed',
    paragraph: (u) => `the password of your account ${u} was changed, and every other device was signed out.`,
  },
  password_reset: {
    subject: 'Your password was reset',
    paragraph: (u) =>
      `the password of your account ${u} was reset through a link sent to this address, and every device was signed out.`,
  },
  email_changed: {
    subject: 'Your e-mail address was changed',
    paragraph: (u) =>
      `the e-mail address of your account ${u} was changed: mail for it no longer comes here.`,
  },
  totp_enabled: {
    subject: 'Two-step sign-in was turned on',
    paragraph: (u) =>
      `an authenticator app was set up as the second factor of your account ${u}, with a new set of recovery codes.`,
  },
  totp_disabled: {
    subject: 'Two-step sign-in was turned off',
    paragraph: (u) =>
      `the authenticator app and the recovery codes of your account ${u} were removed: a password alone may now sign in, unless a passkey is registered.`,
  },
  recovery_codes_regenerated: {
    subject: 'New recovery codes were made',
    paragraph: (u) =>
      `a new set of recovery codes was made for your account ${u}; the old codes no longer work.`,
  },
  passkey_added: {
    subject: 'A passkey was added',
    paragraph: (u) => `a passkey was added to your account ${u}: it can sign in to the account from now on.`,
  },
  passkey_removed: {
    subject: 'A passkey was removed',
    paragraph: (u) => `a passkey was removed from your account ${u}: it no longer signs in.`,
  },
};

/** A notice: what changed, and what to do if it was not the holder. No link, no secret. */
export function noticeMail(to: string, username: string, notice: NoticeKind): OutgoingMail {
  const { subject, paragraph } = noticeTexts[notice];
  return {
    to,
    subject,
    ...body([
      `Hello ${username},`,
      paragraph(username),
      'If this was not you, reset your password at once ("Forgot password?") and check the devices signed in to your account.',
    ]),
  };
}

/** The URL a link opens: the page, with the secret as the `token` parameter of the fragment (never sent to a server). */
export function linkUrl(page: string, secret: string): string {
  const url = new URL(page);
  url.hash = `token=${secret}`;
  return url.toString();
}
