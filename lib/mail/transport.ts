import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import nodemailer from 'nodemailer';
import type { OutgoingMail } from './messages.ts';

/** Sends one mail; throws when the mail was not accepted (the caller retries). */
export interface MailTransport {
  /** `ses`, `smtp` or `file`: for logs and metrics. */
  readonly name: string;
  send(mail: OutgoingMail): Promise<void>;
}

/**
 * The RFC 5322 message of a mail, built by nodemailer's MIME composer (its stream transport, buffered):
 * multipart/alternative with a text and an HTML part, CRLF line ends.
 */
export async function composeMessage(from: string, mail: OutgoingMail): Promise<Buffer> {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await composer.sendMail({
    from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
  });
  return info.message as Buffer;
}

/** Amazon SES v2 (`SendEmail` with the raw message): the sender identity is `from`, which IAM scopes the grant to. */
export function sesTransport(from: string, client = new SESv2Client({ maxAttempts: 3 })): MailTransport {
  return {
    name: 'ses',
    async send(mail) {
      const raw = await composeMessage(from, mail);
      await client.send(
        new SendEmailCommand({
          FromEmailAddress: from,
          Destination: { ToAddresses: [mail.to] },
          Content: { Raw: { Data: raw } },
        }),
      );
    },
  };
}

/** Any SMTP server, by URL (`smtp://user:pass@host:587`, `smtps://host:465`), through nodemailer. */
export function smtpTransport(from: string, url: string): MailTransport {
  const transporter = nodemailer.createTransport(url);
  return {
    name: 'smtp',
    async send(mail) {
      await transporter.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
      });
    },
  };
}

let sequence = 0;

/**
 * The local sink: each mail an `.eml` file in `dir`, named so that names sort by time of sending, and one console
 * line with its recipient, subject and link (a local convenience: on AWS the transport is SES or SMTP).
 */
export function fileTransport(
  from: string,
  dir: string,
  print: (line: string) => void = console.log,
): MailTransport {
  return {
    name: 'file',
    async send(mail) {
      const raw = await composeMessage(from, mail);
      mkdirSync(dir, { recursive: true });
      sequence += 1;
      const stamp = new Date().toISOString().replace(/[-:.]/g, '');
      const file = join(dir, `${stamp}-${process.pid}-${String(sequence).padStart(6, '0')}.eml`);
      writeFileSync(file, raw, { flag: 'wx' });
      print(`mail to ${mail.to}: "${mail.subject}"${mail.link ? ` ${mail.link}` : ''}`);
    },
  };
}

/** The transport `MAIL_TRANSPORT` names (see `lib/config.ts`). */
export function createMailTransport(config: {
  mailTransport: string;
  mailFrom: string;
  mailDir: string;
  mailEcho: boolean;
}): MailTransport {
  if (config.mailTransport === 'ses') return sesTransport(config.mailFrom);
  if (config.mailTransport === 'file')
    return fileTransport(config.mailFrom, config.mailDir, config.mailEcho ? console.log : () => {});
  return smtpTransport(config.mailFrom, config.mailTransport);
}
