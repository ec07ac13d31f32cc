import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { PAGE_HEADERS } from './demo-page.ts';

/**
 * The local mail box (`/mailbox`): every mail of the `file` transport, newest first, as a mail catcher shows
 * them, with the demo page's style sheet and no script. (The pages the mailed links open are the `link-pages`
 * function's, served here through the routes as on AWS.)
 */

/**
 * The demo page's headers, but no script at all, and nothing kept: the page lists live link tokens.
 */
export const MAILBOX_HEADERS = {
  ...PAGE_HEADERS,
  'Content-Security-Policy': PAGE_HEADERS['Content-Security-Policy'].replace(
    "script-src 'self'",
    "script-src 'none'",
  ),
  'Cache-Control': 'no-store',
};

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** One mail of the sink, as the mail box lists it. */
export interface MailboxEntry {
  file: string;
  to: string;
  subject: string;
  date: string;
  text: string;
}

/** The mails in `dir`, newest first, parsed with mailparser (a dev dependency, loaded on demand). */
export async function readMailbox(dir: string): Promise<MailboxEntry[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((name) => name.endsWith('.eml'));
  } catch {
    return [];
  }
  const { simpleParser } = await import('mailparser');
  const entries = await Promise.all(
    files
      .sort()
      .reverse()
      .slice(0, 200)
      .map(async (file) => {
        const parsed = await simpleParser(await readFile(join(dir, file)));
        const to = Array.isArray(parsed.to)
          ? parsed.to.map((a) => a.text).join(', ')
          : (parsed.to?.text ?? '');
        return {
          file,
          to,
          subject: parsed.subject ?? '',
          date: parsed.date?.toISOString() ?? '',
          text: parsed.text ?? '',
        };
      }),
  );
  return entries;
}

/** The mail box page: each mail's time, recipient, subject and text, links clickable. No script. */
function mailboxPage(dir: string, entries: MailboxEntry[]): string {
  const linkify = (text: string) =>
    escapeHtml(text).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);
  const items = entries
    .map(
      (mail) => `      <li class="card mail">
        <h2>${escapeHtml(mail.subject)}</h2>
        <p class="muted">to <strong>${escapeHtml(mail.to)}</strong> · <time datetime="${escapeHtml(mail.date)}">${escapeHtml(mail.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</time></p>
        <pre class="output">${linkify(mail.text)}</pre>
      </li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Local mail box · lambda-token-auth</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/demo.css" />
  </head>
  <body>
    <header>
      <h1>Local mail box</h1>
      <p>Every mail the service sent in this run of <code>npm start</code>, newest first (the <code>.eml</code> files in <code>${escapeHtml(dir)}</code>). Reload to see new ones. <a href="/">Back to the demo page</a></p>
    </header>
    <main class="single">
    <ol class="mailbox" aria-label="Mails">
${items || '      <li class="card muted">No mail yet.</li>'}
    </ol>
    </main>
  </body>
</html>
`;
}

/** Answers `GET`/`HEAD` of `/mailbox`; returns false for any other request. */
export async function serveMailbox(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  mailDir: string,
): Promise<boolean> {
  if (pathname !== '/mailbox' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  let body: string;
  try {
    body = mailboxPage(mailDir, await readMailbox(mailDir));
  } catch (error) {
    console.error('mail box: could not read', mailDir, error instanceof Error ? error.message : error);
    res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
    res.end('The mail box could not be read; see the server log.');
    return true;
  }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...MAILBOX_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
