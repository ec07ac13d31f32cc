import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import type { LocalOutbox } from '../../lib/mail/outbox.ts';
import { defaultServices } from '../../lib/services.ts';

/** A mail of the local sink, parsed from its `.eml` file. */
export interface ReceivedMail {
  file: string;
  raw: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The `token` of the mail's link, if it carries one. */
  token: string | undefined;
  /** The link itself. */
  link: string | undefined;
  parsed: ParsedMail;
}

/** Every mail in `dir`, oldest first (the sink's file names sort by time of sending). */
export async function mailsIn(dir: string): Promise<ReceivedMail[]> {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((name) => name.endsWith('.eml'))
      .sort();
  } catch {
    return [];
  }
  return Promise.all(
    files.map(async (file) => {
      const raw = readFileSync(join(dir, file), 'utf8');
      const parsed = await simpleParser(raw);
      const text = parsed.text ?? '';
      const link = /https?:\/\/\S+#token=[A-Za-z0-9_-]+/.exec(text)?.[0];
      const to = Array.isArray(parsed.to) ? (parsed.to[0]?.text ?? '') : (parsed.to?.text ?? '');
      return {
        file,
        raw,
        to,
        subject: parsed.subject ?? '',
        text,
        html: typeof parsed.html === 'string' ? parsed.html : '',
        token: link ? new URL(link).hash.replace(/^#token=/, '') : undefined,
        link,
        parsed,
      };
    }),
  );
}

/** The in-process service's local queue (the in-process tier only). */
export const localOutbox = () => defaultServices().outbox as LocalOutbox;

/** Waits until every queued mail request of the in-process service is delivered, then reads the mails to `to`. */
export async function mailsTo(dir: string, to: string): Promise<ReceivedMail[]> {
  await localOutbox().idle();
  return (await mailsIn(dir)).filter((mail) => mail.to === to);
}
